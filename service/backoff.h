// Reconnect pacing for client tunnels: exponential growth with a cap and
// random jitter. The state lives in the tunnel and is reset only by a
// successful handshake, so consecutive failures really do wait longer each
// time (the reference re-created its backoff inside the retry loop and never
// grew past the first step, W1).
#ifndef SNAPTUN_SERVICE_BACKOFF_H_
#define SNAPTUN_SERVICE_BACKOFF_H_

#include "absl/time/time.h"
#include "tunnel/crypto/random.h"

namespace snaptun::service {

struct BackoffPolicy {
  absl::Duration initial = absl::Seconds(1);
  absl::Duration max = absl::Seconds(60);
  double multiplier = 2.0;
  // Each delay is scaled by a random factor in [1 - jitter, 1 + jitter].
  double jitter = 0.2;
};

class Backoff {
 public:
  explicit Backoff(const BackoffPolicy& policy) : policy_(policy) {}
  // The delay before the next attempt; each call grows the base delay.
  absl::Duration Next(crypto::RandomSource& rng);
  void Reset() { attempts_ = 0; }
  int attempts() const { return attempts_; }

 private:
  BackoffPolicy policy_;
  int attempts_ = 0;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_BACKOFF_H_
