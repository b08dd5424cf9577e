// Where the data plane reads time. The protocol core needs wall time (the
// handshake's TAI64N timestamp is derived from it) but its timers must never
// run backwards, so the system clock here is wall time made monotonic: a step
// back of the host clock holds time still instead of reversing it. Tests use
// FakeClock and move it by hand.
#ifndef SNAPTUN_TUNNEL_IO_CLOCK_H_
#define SNAPTUN_TUNNEL_IO_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace snaptun::io {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
};

// Wall time that never decreases. Thread-safe.
class SystemClock final : public Clock {
 public:
  absl::Time Now() override;

 private:
  absl::Mutex mu_;
  absl::Time last_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// Time that moves only when told. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1700000000))
      : now_(start) {}
  absl::Time Now() override;
  void Advance(absl::Duration by);

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace snaptun::io

#endif  // SNAPTUN_TUNNEL_IO_CLOCK_H_
