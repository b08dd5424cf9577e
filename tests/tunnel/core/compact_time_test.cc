// The 8-byte time a tunnel's fields use: clock readings round-trip exactly,
// the infinities stay infinite (timers compare against them), and finite
// times beyond its range saturate instead of wrapping.
#include "tunnel/core/compact_time.h"

#include <gtest/gtest.h>

namespace snaptun::core {
namespace {

TEST(CompactTimeTest, ClockReadingsRoundTrip) {
  static_assert(sizeof(CompactTime) == 8);
  for (absl::Time t :
       {absl::UnixEpoch(), absl::FromUnixNanos(1), absl::FromUnixNanos(-1),
        absl::FromUnixSeconds(1000), absl::FromUnixNanos(1764528000123456789),
        absl::FromUnixSeconds(-86400 * 365)}) {
    EXPECT_EQ(absl::Time(CompactTime(t)), t) << t;
  }
}

// A deadline is never stored earlier than it is: a sub-nanosecond time
// rounds up, so a timer armed with it finds the deadline due when it fires.
TEST(CompactTimeTest, FinerTimesRoundUp) {
  const absl::Time t = absl::FromUnixNanos(1000) + absl::Nanoseconds(0.25);
  EXPECT_EQ(absl::Time(CompactTime(t)), absl::FromUnixNanos(1001));
  EXPECT_GE(absl::Time(CompactTime(t)), t);
  const absl::Time before = absl::FromUnixNanos(-1000) - absl::Nanoseconds(0.5);
  EXPECT_EQ(absl::Time(CompactTime(before)), absl::FromUnixNanos(-1000));
}

TEST(CompactTimeTest, InfinitiesStayInfinite) {
  EXPECT_EQ(absl::Time(CompactTime(absl::InfiniteFuture())),
            absl::InfiniteFuture());
  EXPECT_EQ(absl::Time(CompactTime(absl::InfinitePast())),
            absl::InfinitePast());
  const CompactTime never = absl::InfiniteFuture();
  EXPECT_GT(absl::Time(never), absl::FromUnixSeconds(int64_t{1} << 40));
  EXPECT_EQ(absl::Time(never) - absl::FromUnixSeconds(1),
            absl::InfiniteDuration());
}

TEST(CompactTimeTest, FarTimesSaturate) {
  EXPECT_EQ(absl::Time(CompactTime(absl::FromUnixSeconds(int64_t{1} << 40))),
            absl::InfiniteFuture());
  EXPECT_EQ(absl::Time(CompactTime(absl::FromUnixSeconds(-(int64_t{1} << 40)))),
            absl::InfinitePast());
}

TEST(CompactTimeTest, FieldsCompareAndSubtractAsAbslTime) {
  CompactTime sent = absl::FromUnixSeconds(10);
  const absl::Time now = absl::FromUnixSeconds(25);
  EXPECT_EQ(now - sent, absl::Seconds(15));
  EXPECT_TRUE(sent < now);
  EXPECT_EQ(sent + absl::Seconds(5), absl::FromUnixSeconds(15));
  sent = now;
  EXPECT_EQ(absl::Time(sent), now);
}

}  // namespace
}  // namespace snaptun::core
