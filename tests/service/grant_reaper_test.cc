// Expired grants are forgotten on a timer, with nobody listing them (W22):
// an event loop on a fake clock, moved by hand, so the test does not wait.
#include "service/grant_reaper.h"

#include <thread>

#include "gtest/gtest.h"
#include "tests/testing/loop_turns.h"
#include "tunnel/io/clock.h"

namespace snaptun::service {
namespace {

crypto::PublicKey Key(uint8_t fill) {
  crypto::PublicKey key{};
  key.fill(fill);
  return key;
}

class GrantReaperTest : public ::testing::Test {
 protected:
  GrantReaperTest() : loop_(clock_), thread_([this] { loop_.Run(); }) {}
  ~GrantReaperTest() override {
    loop_.Stop();
    thread_.join();
  }

  // Moves the fake clock and lets the loop run what fell due.
  void Advance(absl::Duration by) {
    clock_.Advance(by);
    testing::FinishLoopTurns(loop_);
  }

  io::FakeClock clock_;
  io::EventLoop loop_;
  std::thread thread_;
  IdentityStore store_;
};

TEST_F(GrantReaperTest, ForgetsExpiredGrantsWithoutBeingAsked) {
  const absl::Time now = clock_.Now();
  for (uint8_t k = 1; k <= 100; ++k) {
    store_.Grant(Key(k), now, now + absl::Seconds(k <= 90 ? 10 : 3600), {});
  }
  GrantReaper reaper(loop_, store_, absl::Seconds(30));
  Advance(absl::ZeroDuration());  // The reaper arms its timer.
  Advance(absl::Seconds(29));
  EXPECT_EQ(store_.size(), 100u);  // Not yet due.
  Advance(absl::Seconds(2));
  EXPECT_EQ(store_.size(), 10u);
  EXPECT_EQ(reaper.reaped(), 90u);
  // It keeps running: grants that expire later go at a later turn.
  Advance(absl::Hours(2));
  EXPECT_EQ(store_.size(), 0u);
  EXPECT_EQ(reaper.reaped(), 100u);
}

TEST_F(GrantReaperTest, StopsWhenDestroyed) {
  const absl::Time now = clock_.Now();
  store_.Grant(Key(1), now, now + absl::Seconds(1), {});
  { GrantReaper reaper(loop_, store_, absl::Seconds(30)); }
  Advance(absl::Minutes(5));
  EXPECT_EQ(store_.size(), 1u);
}

}  // namespace
}  // namespace snaptun::service
