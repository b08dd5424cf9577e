// The gateway's tunnels, one per remote socket address, with no preconfigured
// peers: an initiation from an unknown address is opened anonymously to learn
// the initiator's static key, that key is authorized, and only then is state
// created. Authorization is re-checked on every packet in both directions and
// when a grant expires; a tunnel whose identity is no longer authorized is
// removed at once rather than left to linger (W11). Tunnel counts are bounded
// globally and per identity (W13); handshakes are rate limited per source
// with cookies (W14); a failed first initiation leaves no state (W12), and a
// replayed initiation from another address is refused because timestamps are
// tracked per identity, not per address. Another identity at an occupied
// address replaces the tunnel only after key confirmation (T3), so a spoofed
// or replayed initiation cannot tear down a live tunnel. Timers run from a
// deadline heap, so idle tunnels cost nothing per tick.
//
// One table is owned by one worker thread; nothing here locks.
#ifndef SNAPTUN_TUNNEL_CORE_TUNNEL_TABLE_H_
#define SNAPTUN_TUNNEL_CORE_TUNNEL_TABLE_H_

#include <cstdint>
#include <memory>
#include <queue>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "tunnel/core/authorizer.h"
#include "tunnel/core/compact_time.h"
#include "tunnel/core/cookie.h"
#include "tunnel/core/endpoint.h"
#include "tunnel/core/handshake_ledger.h"
#include "tunnel/core/identity.h"
#include "tunnel/core/peer.h"
#include "tunnel/core/rate_limiter.h"
#include "tunnel/core/tunnel_quota.h"
#include "tunnel/core/verdict.h"
#include "tunnel/crypto/random.h"
#include "tunnel/crypto/tai64n.h"

namespace snaptun::core {

struct TunnelTableConfig {
  Mode mode = Mode::kSnap;
  size_t max_tunnels = 100000;
  size_t max_tunnels_per_identity = 16;
  size_t queue_capacity = 128;
  RateLimiterConfig rate_limiter;
  // Shared with the other tables and the client role; each tunnel holds a
  // slot. Optional; outlives the table.
  TunnelQuota* quota = nullptr;
};

enum class RemovalReason : uint8_t {
  kExpired,       // No usable session remained.
  kUnauthorized,  // The identity was revoked or its grant expired.
  kReplaced,      // Another identity confirmed a session at the address.
  kClosed,        // Removed by the caller.
};

absl::string_view RemovalReasonName(RemovalReason reason);

struct TableEvent {
  enum class Type : uint8_t { kCreated, kPeer, kRemoved, kCookieSent };
  Type type;
  Endpoint remote;
  crypto::PublicKey identity{};
  PeerEvent peer_event{};                          // For kPeer.
  RemovalReason removal = RemovalReason::kClosed;  // For kRemoved.
};

struct TableOutput {
  std::vector<std::pair<Endpoint, std::vector<uint8_t>>> to_network;
  std::vector<TableEvent> events;
  uint32_t drops[kDropReasonCount] = {};
  // Queued payloads a tunnel's peer sealed once a session became usable,
  // per tunnel, so they are counted on that tunnel as well as in sum.
  struct Flushed {
    Endpoint remote;
    uint32_t packets = 0;
    uint64_t bytes = 0;
  };
  std::vector<Flushed> flushed;

  void Clear();
};

struct IncomingResult {
  ReceiveResult::Kind kind = ReceiveResult::Kind::kDropped;
  DropReason drop = DropReason::kNone;
  HandshakeFailure failure = HandshakeFailure::kNone;
  absl::Span<uint8_t> payload;  // kData: plaintext inside the datagram.
  std::optional<Grant> grant;   // The freshest grant of the sender.
  // The datagram was a handshake initiation (counted by outcome), and a
  // cookie reply went back to it instead of a response.
  bool initiation = false;
  bool cookie_sent = false;
};

struct OutgoingResult {
  SendOutcome status = SendOutcome::kDropped;
  DropReason drop = DropReason::kNone;
  size_t size = 0;
  std::optional<Grant> grant;
};

class TunnelTable {
 public:
  // `shared` is the ledger of every table of one gateway; without it the
  // table keeps its own (its limiter then uses config.rate_limiter).
  TunnelTable(const LocalIdentity& local, const Authorizer& authorizer,
              crypto::RandomSource& rng, const TunnelTableConfig& config,
              HandshakeLedger* shared = nullptr);
  // Gives back the quota slots of the tunnels still held.
  ~TunnelTable();
  TunnelTable(const TunnelTable&) = delete;
  TunnelTable& operator=(const TunnelTable&) = delete;

  // A datagram from `from`. Handshake replies and cookie replies go to
  // `out.to_network`; decrypted payloads come back in the result.
  IncomingResult HandleIncoming(absl::Time now, absl::Span<uint8_t> datagram,
                                const Endpoint& from, TableOutput& out);

  // A payload for the tunnel at `to`, sealed into `datagram` when a session
  // is usable (otherwise queued inside the tunnel).
  OutgoingResult HandleOutgoing(absl::Time now, const Endpoint& to,
                                absl::Span<const uint8_t> payload,
                                absl::Span<uint8_t> datagram, TableOutput& out);

  // Runs the timers of every tunnel whose deadline is at or before `now`.
  void OnTimer(absl::Time now, TableOutput& out);
  absl::Time NextDeadline() const;

  // Removes every tunnel of `identity`; returns how many.
  size_t RemoveIdentity(const crypto::PublicKey& identity, RemovalReason reason,
                        TableOutput& out);
  bool Remove(const Endpoint& remote, RemovalReason reason, TableOutput& out);

  size_t size() const { return tunnels_.size(); }
  size_t CountFor(const crypto::PublicKey& identity) const;
  const Peer* Find(const Endpoint& remote) const;
  size_t timer_heap_size() const { return deadlines_.size(); }

 private:
  struct Tunnel {
    std::unique_ptr<Peer> peer;
    // A fully validated initiation from another identity at this address
    // (NAT reuse, or someone spoofing the address): its peer answered, but
    // it replaces `peer` only on key confirmation, the first authenticated
    // transport message on its session. Until then `peer` keeps working.
    std::unique_ptr<Peer> candidate;
    crypto::PublicKey identity;
    CompactTime grant_expires = absl::InfiniteFuture();
    CompactTime scheduled = absl::InfiniteFuture();
  };
  struct Deadline {
    CompactTime at;
    Endpoint remote;
    bool operator>(const Deadline& o) const {
      return absl::Time(at) > absl::Time(o.at);
    }
  };

  // A responder's peer for `identity`, with the table's config.
  std::unique_ptr<Peer> NewPeer(const crypto::PublicKey& identity) {
    return std::make_unique<Peer>(local_, identity, peer_config_, rng_);
  }
  IncomingResult HandleInitiation(absl::Time now, absl::Span<uint8_t> datagram,
                                  const Endpoint& from, Tunnel* existing,
                                  TableOutput& out);
  // A transport message for the candidate's session at `from`: replaces
  // the tunnel once the message authenticates.
  IncomingResult ConfirmCandidate(absl::Time now, absl::Span<uint8_t> datagram,
                                  const Endpoint& from, Tunnel& tunnel,
                                  TableOutput& out);
  // Admission of a mac1-valid handshake message; false when dropped (a
  // cookie reply may have been queued).
  bool AdmitHandshake(absl::Time now, absl::Span<const uint8_t> message,
                      const Endpoint& from, TableOutput& out);
  // Re-checks the tunnel's identity; removes the tunnel if refused.
  std::optional<Grant> Reauthorize(absl::Time now, const Endpoint& remote,
                                   Tunnel& tunnel, TableOutput& out);
  void Collect(const Endpoint& remote, const crypto::PublicKey& identity,
               PeerOutput& peer_out, TableOutput& out);
  void Schedule(const Endpoint& remote, Tunnel& tunnel);
  // Removes the tunnel at `remote`; its quota slot is given back unless it
  // passes to a successor at the same address.
  void Erase(const Endpoint& remote, RemovalReason reason, TableOutput& out,
             bool release_quota = true);

  const LocalIdentity& local_;
  const Authorizer& authorizer_;
  crypto::RandomSource& rng_;
  const TunnelTableConfig config_;
  // Every tunnel's peer shares this one (mode and queue from config_).
  const std::shared_ptr<const PeerConfig> peer_config_;
  std::unique_ptr<HandshakeLedger> own_ledger_;
  HandshakeLedger& ledger_;
  CookieChecker cookies_;
  PeerOutput scratch_;

  absl::flat_hash_map<Endpoint, Tunnel> tunnels_;
  absl::flat_hash_map<crypto::PublicKey, uint32_t> per_identity_;
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>>
      deadlines_;
};

}  // namespace snaptun::core

#endif  // SNAPTUN_TUNNEL_CORE_TUNNEL_TABLE_H_
