// Handshake state that must be shared by every tunnel table of one gateway:
// the per-source handshake rate limiter and the newest initiation timestamp
// accepted from each identity. A gateway runs one table per worker, and the
// kernel spreads a source's ports over the workers, so a limiter or replay
// record kept per table could be sidestepped by changing source port. Only
// handshake messages reach the ledger, so one mutex is enough.
#ifndef SNAPTUN_TUNNEL_CORE_HANDSHAKE_LEDGER_H_
#define SNAPTUN_TUNNEL_CORE_HANDSHAKE_LEDGER_H_

#include <cstdint>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/synchronization/mutex.h"
#include "tunnel/core/endpoint.h"
#include "tunnel/core/rate_limiter.h"
#include "tunnel/crypto/secret.h"
#include "tunnel/crypto/tai64n.h"

namespace snaptun::core {

class HandshakeLedger {
 public:
  // Remembers timestamps for at most `max_identities` identities; when full
  // it forgets an arbitrary one (its tunnels' own timestamps still guard
  // them).
  HandshakeLedger(const RateLimiterConfig& limits, size_t max_identities);

  HandshakeRateLimiter::Decision Admit(absl::Time now, const Endpoint& source);
  // Records an accepted initiation of `identity`: its timestamp and its
  // ephemeral key. False (nothing recorded) when the same ephemeral key was
  // accepted before — the exact bytes replayed, from this address or
  // another — or when the timestamp is more than kReplayWindow older than
  // the identity's newest. One identity may hold many tunnels at once
  // (SNAP keys tunnels by address), so concurrent initiations with equal
  // or slightly out-of-order timestamps are all accepted.
  bool Claim(const crypto::PublicKey& identity, const crypto::Tai64n& timestamp,
             const crypto::PublicKey& ephemeral);

  static constexpr absl::Duration kReplayWindow = absl::Seconds(10);
  // Accepted initiations remembered per identity within the window.
  static constexpr size_t kMaxRemembered = 1024;

 private:
  // Every identity that ever connected keeps one entry, so it is small: the
  // one recent initiation an idle identity has lives inline (a std::deque
  // allocated 576 bytes per identity, a quarter of an idle tunnel).
  // An initiation's ephemeral key is remembered by its first 8 bytes: a
  // replay repeats them exactly, and two honest ephemeral keys (random
  // curve points) share them with probability 2^-64. Half the bytes of the
  // key itself.
  struct Seen {
    int64_t newest = 0;  // Unix nanoseconds of the newest timestamp.
    // Accepted initiations within the window (time, ephemeral key's
    // fingerprint), oldest first.
    absl::InlinedVector<std::pair<int64_t, uint64_t>, 1> recent;
  };

  const size_t max_identities_;
  mutable absl::Mutex mu_;
  HandshakeRateLimiter limiter_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<crypto::PublicKey, Seen> seen_ ABSL_GUARDED_BY(mu_);
};

}  // namespace snaptun::core

#endif  // SNAPTUN_TUNNEL_CORE_HANDSHAKE_LEDGER_H_
