// Monotonic wall clock and the fake clock for tests.
#include "tunnel/io/clock.h"

#include <algorithm>

namespace snaptun::io {

absl::Time SystemClock::Now() {
  const absl::Time wall = absl::Now();
  absl::MutexLock lock(&mu_);
  last_ = std::max(last_, wall);
  return last_;
}

absl::Time FakeClock::Now() {
  absl::MutexLock lock(&mu_);
  return now_;
}

void FakeClock::Advance(absl::Duration by) {
  absl::MutexLock lock(&mu_);
  now_ += by;
}

}  // namespace snaptun::io
