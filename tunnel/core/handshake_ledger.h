// Handshake state that must be shared by every tunnel table of one gateway:
// the per-source handshake rate limiter and the newest initiation timestamp
// accepted from each identity. A gateway runs one table per worker, and the
// kernel spreads a source's ports over the workers, so a limiter or replay
// record kept per table could be sidestepped by changing source port. Only
// handshake messages reach the ledger, so one mutex is enough.
#ifndef SNAPTUN_TUNNEL_CORE_HANDSHAKE_LEDGER_H_
#define SNAPTUN_TUNNEL_CORE_HANDSHAKE_LEDGER_H_

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
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
  // Records `timestamp` if it is newer than every initiation accepted from
  // `identity` so far, in one step, so two workers cannot both accept the
  // same initiation; false (nothing recorded) when it is not.
  bool Claim(const crypto::PublicKey& identity,
             const crypto::Tai64n& timestamp);
  void Remember(const crypto::PublicKey& identity,
                const crypto::Tai64n& timestamp);

 private:
  void RememberLocked(const crypto::PublicKey& identity,
                      const crypto::Tai64n& timestamp)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_identities_;
  mutable absl::Mutex mu_;
  HandshakeRateLimiter limiter_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<crypto::PublicKey, crypto::Tai64n> timestamps_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace snaptun::core

#endif  // SNAPTUN_TUNNEL_CORE_HANDSHAKE_LEDGER_H_
