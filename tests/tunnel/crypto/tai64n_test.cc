// TAI64N encoding: the base, big-endian order and the 2^24 ns whitening
// (wireguard-go's tai64n_test: 10 ms apart is not later, 20 ms apart is).
#include "tunnel/crypto/tai64n.h"

#include <gtest/gtest.h>

#include "tests/testing/hex.h"

namespace snaptun::crypto {
namespace {

using ::snaptun::testing::ToHex;

TEST(Tai64nTest, MatchesTestVectorTimestamp) {
  // 2025-01-01T00:00:00Z, the timestamp of design/TEST-VECTORS.md.
  EXPECT_EQ(ToHex(Tai64nFromTime(absl::FromUnixSeconds(1735689600))),
            "400000006774858a00000000");
}

TEST(Tai64nTest, WhiteningHidesSubSixteenMillisecondDifferences) {
  const absl::Time t0 = absl::FromUnixSeconds(1735689600);
  const Tai64n a = Tai64nFromTime(t0);
  EXPECT_FALSE(Tai64nAfter(Tai64nFromTime(t0 + absl::Milliseconds(10)), a));
  EXPECT_TRUE(Tai64nAfter(Tai64nFromTime(t0 + absl::Milliseconds(20)), a));
  EXPECT_FALSE(Tai64nAfter(a, a));
  EXPECT_TRUE(Tai64nAfter(Tai64nFromTime(t0 + absl::Seconds(1)),
                          Tai64nFromTime(t0 + absl::Milliseconds(999))));
}

}  // namespace
}  // namespace snaptun::crypto
