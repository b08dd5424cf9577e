// One tunnel's protocol state machine: handshakes (as initiator and as
// responder), the previous/current/next keypairs with key confirmation, the
// queue of payloads waiting for a session, cookies, and WireGuard's timers
// kept as deadlines. It is i/o-free: every call takes `now`, randomness comes
// from the injected source, and whatever must go on the wire is appended to a
// `PeerOutput` for the caller to send to the peer's endpoint.
//
// Deviations from the reference, on purpose: keepalives do not count as data
// (no keepalive ping-pong, as in wireguard-go; W27) except as liveness
// probes in SNAP mode (PeerConfig::keepalive_probes), a cookie reply triggers
// an immediate retransmission with mac2 (W15), a response whose address does
// not decode fails the handshake (W35), and a responder never sends on a
// session before the initiator confirmed it.
#ifndef SNAPTUN_TUNNEL_CORE_PEER_H_
#define SNAPTUN_TUNNEL_CORE_PEER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "tunnel/core/compact_time.h"
#include "tunnel/core/cookie.h"
#include "tunnel/core/endpoint.h"
#include "tunnel/core/fifo.h"
#include "tunnel/core/identity.h"
#include "tunnel/core/keypair.h"
#include "tunnel/core/messages.h"
#include "tunnel/core/noise.h"
#include "tunnel/core/timers.h"
#include "tunnel/core/verdict.h"
#include "tunnel/crypto/random.h"

namespace snaptun::core {

struct PeerConfig {
  Mode mode = Mode::kSnap;
  // Keepalive after this long without any packet sent or received; zero is
  // off.
  absl::Duration persistent_keepalive = absl::ZeroDuration();
  // Payloads held while no session is usable; beyond it the oldest drops.
  size_t queue_capacity = 128;
  // Sent data and heard nothing back for this long: start a new handshake.
  // WireGuard's KEEPALIVE_TIMEOUT + REKEY_TIMEOUT; only tests shorten it.
  absl::Duration no_reply_timeout = kNewHandshakeTimeout;
  // SNAP mode only: keepalives probe liveness. The initiator's keepalives
  // arm the no-reply rule like data, and the responder answers a keepalive
  // with one of its own after KEEPALIVE_TIMEOUT unless it sent something
  // first. So an idle or receive-only client notices a dead gateway within
  // keepalive interval + no_reply_timeout, instead of at the next rekey
  // (W27). WireGuard mode keeps WireGuard's semantics: a WireGuard peer
  // does not answer keepalives.
  bool keepalive_probes = true;
};

enum class PeerEventType : uint8_t {
  kHandshakeInitiated,  // We sent an initiation (first or retransmission).
  kHandshakeCompleted,  // A session became usable (first, rekey, reconnect).
  kHandshakeFailed,     // A handshake message was refused, or timeout.
  kCookieReceived,      // We got a cookie reply and resent with mac2.
  kAddressChanged,      // The responder saw us at a new address.
  kExpired,             // Gave up: REKEY_ATTEMPT_TIME passed without answer.
};

struct PeerEvent {
  PeerEventType type;
  HandshakeFailure failure = HandshakeFailure::kNone;
  // For kHandshakeCompleted: from the first initiation to completion.
  absl::Duration duration = absl::ZeroDuration();
  bool initiator = false;
};

// What a call asks the caller to do.
struct PeerOutput {
  std::vector<std::vector<uint8_t>> to_network;
  std::vector<PeerEvent> events;
  // Payloads dropped inside the peer (queue overflow, expiry), by reason.
  uint32_t drops[kDropReasonCount] = {};
  // Queued payloads sealed once a session became usable: the caller counts
  // them as sent, like payloads Send sealed at once.
  uint32_t flushed_packets = 0;
  uint64_t flushed_bytes = 0;

  void Clear();
};

// What became of a payload given to Send: sealed into the output, queued
// until a handshake completes, or dropped (the reason says why).
enum class SendOutcome : uint8_t { kSent, kQueued, kDropped };

struct SendResult {
  SendOutcome status;
  DropReason drop = DropReason::kNone;
  size_t size = 0;  // Bytes written to the datagram buffer when kSent.
};

struct ReceiveResult {
  enum class Kind : uint8_t {
    kData,
    kKeepalive,
    kHandshake,
    kCookie,
    kDropped
  };
  Kind kind;
  DropReason drop = DropReason::kNone;
  HandshakeFailure failure = HandshakeFailure::kNone;
  // For kData: the plaintext, inside the message buffer.
  absl::Span<uint8_t> payload;
};

class Peer {
 public:
  // `config` is shared, immutable, by every peer of one owner (a tunnel
  // table holds one for all its tunnels): an idle tunnel carries a pointer,
  // not a copy.
  Peer(const LocalIdentity& local, const crypto::PublicKey& remote,
       std::shared_ptr<const PeerConfig> config, crypto::RandomSource& rng);
  // A peer with a config of its own (a client tunnel, tests).
  Peer(const LocalIdentity& local, const crypto::PublicKey& remote,
       const PeerConfig& config, crypto::RandomSource& rng);
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  // The largest datagram Send writes for a payload of `payload_size`.
  static size_t SealedSize(size_t payload_size, Mode mode);

  // Starts a handshake unless one is in flight (client connect).
  void Connect(absl::Time now, PeerOutput& out);

  // Seals `payload` into `datagram` (at least SealedSize bytes) when a
  // session is usable; otherwise queues it and starts a handshake.
  SendResult Send(absl::Time now, absl::Span<const uint8_t> payload,
                  absl::Span<uint8_t> datagram, PeerOutput& out);

  // Handles a classified message from the peer's endpoint `from`. Data is
  // decrypted in place.
  ReceiveResult Receive(absl::Time now, MessageType type,
                        absl::Span<uint8_t> message, const Endpoint& from,
                        PeerOutput& out);

  // Responder: completes an initiation whose static key the caller already
  // recovered (OpenInitiationStatic) and found acceptable. The response,
  // sealing `from` in SNAP mode, goes to `out`.
  ReceiveResult AcceptInitiation(absl::Time now,
                                 absl::Span<const uint8_t> message,
                                 InitiationContents& contents,
                                 const Endpoint& from, PeerOutput& out);

  // Runs whatever timers are due at `now`.
  void OnTimer(absl::Time now, PeerOutput& out);

  // The next time OnTimer has work; InfiniteFuture when idle for good.
  absl::Time NextDeadline() const;

  // True once a session has been usable.
  bool Established(absl::Time now) const;
  // True when nothing usable remains and no handshake is in flight: the
  // tunnel can be removed (gateway) or must reconnect (client).
  bool Dead(absl::Time now) const;

  const crypto::PublicKey& remote_public_key() const { return remote_key_; }
  Mode mode() const { return config_->mode; }
  // SNAP mode: the address the responder observed for us.
  std::optional<Endpoint> observed_address() const {
    if (observed_ == nullptr) return std::nullopt;
    return *observed_;
  }
  absl::Time last_handshake() const { return last_handshake_; }
  // The newest initiation timestamp this peer accepted as responder.
  const crypto::Tai64n& last_timestamp() const { return last_timestamp_; }
  size_t queued() const { return queue_.size(); }
  bool handshake_pending() const { return pending_ != nullptr; }
  // True when a transport message for `local_index` belongs to one of this
  // peer's sessions (current, next or previous).
  bool OwnsSession(uint32_t local_index) const;

 private:
  void StartHandshake(absl::Time now, PeerOutput& out);
  void SendInitiation(absl::Time now, PeerOutput& out);
  void SendKeepalive(absl::Time now, PeerOutput& out);
  bool Probing() const {
    return config_->mode == Mode::kSnap && config_->keepalive_probes;
  }
  size_t SealWithCurrent(absl::Time now, absl::Span<const uint8_t> payload,
                         uint8_t* out);
  void FlushQueue(absl::Time now, PeerOutput& out);
  // The initiator's current session is old enough (time or messages) that
  // sending on it should start a rekey.
  bool RekeyDue(absl::Time now) const;
  void DropExpiredKeypairs(absl::Time now);
  void Fail(absl::Time now, HandshakeFailure failure, PeerOutput& out);
  Keypair* KeypairFor(uint32_t local_index);
  ReceiveResult ReceiveTransport(absl::Time now, absl::Span<uint8_t> message,
                                 PeerOutput& out);
  ReceiveResult ReceiveResponse(absl::Time now,
                                absl::Span<const uint8_t> message,
                                PeerOutput& out);
  ReceiveResult ReceiveCookie(absl::Time now, absl::Span<const uint8_t> message,
                              PeerOutput& out);
  static ReceiveResult Dropped(
      DropReason drop, HandshakeFailure failure = HandshakeFailure::kNone);

  const LocalIdentity& local_;
  // Its mac1 and cookie keys are derived when a handshake message needs
  // them (a hash each), not kept: an idle tunnel carries only the key.
  const crypto::PublicKey remote_key_;
  const std::shared_ptr<const PeerConfig> config_;
  crypto::RandomSource& rng_;

  // Initiator side of a handshake in flight; allocated only then, since a
  // gateway's tunnels (responders) almost never initiate.
  std::unique_ptr<InitiatorState> pending_;
  // DH(local static, remote static), computed at the first initiation and
  // reused by every later one (rekeys, reconnects); null until then.
  std::unique_ptr<crypto::SymmetricKey> static_secret_;
  CompactTime handshake_started_ = absl::InfinitePast();
  CompactTime last_initiation_sent_ = absl::InfinitePast();
  CompactTime retransmit_at_ = absl::InfiniteFuture();
  CookieJar cookies_;

  // Responder side: replay and flood protection of initiations.
  crypto::Tai64n last_timestamp_{};
  // What we sent last, to match cookie replies against (its mac1 is below,
  // with the other byte-aligned fields: the order keeps the peer small).
  uint32_t last_sent_index_ = 0;
  CompactTime last_initiation_accepted_ = absl::InfinitePast();
  CompactTime response_sent_at_ = absl::InfinitePast();

  std::unique_ptr<Keypair> previous_;
  std::unique_ptr<Keypair> current_;
  std::unique_ptr<Keypair> next_;  // Responder's, until confirmed.

  CompactTime last_sent_ = absl::InfinitePast();
  CompactTime last_received_ = absl::InfinitePast();
  CompactTime last_handshake_ = absl::InfinitePast();
  CompactTime keepalive_at_ = absl::InfiniteFuture();      // Passive.
  CompactTime new_handshake_at_ = absl::InfiniteFuture();  // No reply.

  Fifo<std::vector<uint8_t>> queue_;
  // Set by the first SNAP response: an initiator's alone, so a gateway's
  // tunnels (responders) carry a null pointer instead of the address.
  std::unique_ptr<Endpoint> observed_;
  std::optional<crypto::Bytes<16>> last_sent_mac1_;
  bool rekeyed_on_receive_ = false;
  bool gave_up_ = false;
};

}  // namespace snaptun::core

#endif  // SNAPTUN_TUNNEL_CORE_PEER_H_
