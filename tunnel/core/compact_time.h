// A point in time in 8 bytes instead of absl::Time's 16: whole nanoseconds
// since the Unix epoch, with absl's two infinities kept as the int64
// extremes. A tunnel keeps a dozen timestamps, and at a hundred thousand
// idle tunnels those halves add up (docs/PERFORMANCE.md, the idle budget).
// It converts to and from absl::Time implicitly, so a field changes type
// while the code that compares and subtracts times stays as it was (only
// std::min and std::max need their type spelled: std::max<absl::Time>). Clock
// readings are whole nanoseconds already (finer times round up); finite
// times beyond about 292 years from 1970 saturate to the infinities.
#ifndef SNAPTUN_TUNNEL_CORE_COMPACT_TIME_H_
#define SNAPTUN_TUNNEL_CORE_COMPACT_TIME_H_

#include <cstdint>
#include <limits>

#include "absl/time/time.h"

namespace snaptun::core {

class CompactTime {
 public:
  CompactTime(absl::Time time)  // NOLINT(google-explicit-constructor)
      : nanos_(Encode(time)) {}
  operator absl::Time() const {  // NOLINT(google-explicit-constructor)
    return Decode(nanos_);
  }

 private:
  static constexpr int64_t kFuture = std::numeric_limits<int64_t>::max();
  static constexpr int64_t kPast = std::numeric_limits<int64_t>::min();

  static int64_t Encode(absl::Time time) {
    if (time >= absl::FromUnixNanos(kFuture)) return kFuture;
    if (time <= absl::FromUnixNanos(kPast)) return kPast;
    // Rounded up, so a deadline stored here is never before the time it
    // stands for (a timer that fired early would find nothing due and
    // schedule the same deadline again).
    const int64_t nanos = absl::ToUnixNanos(time);
    return absl::FromUnixNanos(nanos) < time ? nanos + 1 : nanos;
  }
  static absl::Time Decode(int64_t nanos) {
    if (nanos == kFuture) return absl::InfiniteFuture();
    if (nanos == kPast) return absl::InfinitePast();
    return absl::FromUnixNanos(nanos);
  }

  int64_t nanos_;
};

}  // namespace snaptun::core

#endif  // SNAPTUN_TUNNEL_CORE_COMPACT_TIME_H_
