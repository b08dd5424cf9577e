// A tunnel's socket errors become an event only when they persist: a burst
// is counted and forgotten, a run of failures lasting a second is reported
// with its cause and cost, repeated at most every 30 s, and a success ends
// the run. Driven by explicit times, no clock.
#include "service/socket_error_watch.h"

#include <errno.h>

#include <vector>

#include "gtest/gtest.h"
#include "service/read_pause.h"

namespace snaptun::service {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1000);

TEST(SocketErrorWatchTest, ABurstIsNotAnEvent) {
  SocketErrorWatch watch;
  EXPECT_FALSE(watch.Failed(kStart, "sends", EAGAIN, 10).has_value());
  EXPECT_FALSE(
      watch.Failed(kStart + absl::Milliseconds(900), "sends", EAGAIN, 10)
          .has_value());
  watch.Succeeded();
  EXPECT_FALSE(watch.failing());
  // A new run starts from zero: 1.5 s after the first failure, but only
  // 0.5 s into this run.
  EXPECT_FALSE(
      watch.Failed(kStart + absl::Seconds(1), "sends", EAGAIN, 1).has_value());
  EXPECT_FALSE(
      watch.Failed(kStart + absl::Milliseconds(1500), "sends", EAGAIN, 1)
          .has_value());
}

TEST(SocketErrorWatchTest, APersistentRunIsReportedThenRepeatedSparingly) {
  SocketErrorWatch watch;
  EXPECT_FALSE(watch.Failed(kStart, "sends", ENOBUFS, 7).has_value());
  std::optional<std::string> first =
      watch.Failed(kStart + absl::Seconds(1), "sends", ENOBUFS, 5);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first,
            "sends failing for 1.0 s: ENOBUFS 105 (No buffer space "
            "available); 12 datagrams dropped");
  EXPECT_FALSE(watch.Failed(kStart + absl::Seconds(20), "sends", ENOBUFS, 3)
                   .has_value());
  std::optional<std::string> again =
      watch.Failed(kStart + absl::Seconds(31), "sends", EAGAIN, 2);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again,
            "sends failing for 31.0 s: EAGAIN 11 (Resource temporarily "
            "unavailable); 5 datagrams dropped");
}

TEST(ReadPauseTest, DoublesFromTenMillisecondsToOneSecondAndStartsOver) {
  // A socket whose reads keep failing is not read again at once (W28).
  ReadPause pause;
  std::vector<int64_t> delays_ms;
  for (int i = 0; i < 9; ++i) {
    delays_ms.push_back(absl::ToInt64Milliseconds(pause.Failed()));
  }
  EXPECT_EQ(delays_ms,
            (std::vector<int64_t>{10, 20, 40, 80, 160, 320, 640, 1000, 1000}));
  pause.Succeeded();
  EXPECT_EQ(pause.Failed(), absl::Milliseconds(10));
}

TEST(SocketErrorWatchTest, TheBoundsAreConfigurable) {
  SocketErrorWatch watch({absl::ZeroDuration(), absl::Seconds(5)});
  EXPECT_TRUE(watch.Failed(kStart, "receives", ECONNREFUSED, 0).has_value());
  EXPECT_FALSE(
      watch.Failed(kStart + absl::Seconds(4), "receives", ECONNREFUSED, 0)
          .has_value());
  EXPECT_TRUE(
      watch.Failed(kStart + absl::Seconds(5), "receives", ECONNREFUSED, 0)
          .has_value());
}

}  // namespace
}  // namespace snaptun::service
