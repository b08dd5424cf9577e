// A role's totals as a view of its tunnels' own counts (role_traffic.h): the
// sum over live and closed tunnels on every worker, equal to what was
// counted, and never lower than an earlier total while tunnels open, count
// and close on the workers.
#include "service/role_traffic.h"

#include <atomic>
#include <deque>
#include <functional>
#include <memory>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "service/tunnel_port.h"
#include "service/worker.h"
#include "tunnel/io/clock.h"

namespace snaptun::service {
namespace {

// Holds tunnels' counters on one worker, as a shard or driver does.
class FakeOwner final : public RoleTraffic::Owner {
 public:
  void AddLiveCounts(CountersSnapshot& total) const override {
    for (const auto& counters : open_) counters->AddTo(total);
  }
  TunnelCounters& Open() {
    open_.push_back(std::make_unique<TunnelCounters>());
    return *open_.back();
  }
  // Closes the oldest tunnel: its counts go to the share.
  void CloseOldest(RoleTraffic::Share& share) {
    share.Retire(*open_.front());
    open_.pop_front();
  }
  size_t open() const { return open_.size(); }

 private:
  std::deque<std::unique_ptr<TunnelCounters>> open_;
};

// Two workers, the role's share on each, and an owner for each.
class RoleTrafficTest : public ::testing::Test {
 protected:
  void TearDown() override { pool.Stop(); }

  io::SystemClock clock;
  WorkerPool pool{clock, 2};
  RoleTraffic traffic;
  FakeOwner a, b;
  RoleTraffic::Share& on0 = *traffic.ShareOn(pool.at(0));
  RoleTraffic::Share& on1 = *traffic.ShareOn(pool.at(1));
};

TEST_F(RoleTrafficTest, SumsLiveAndClosedTunnelsOnEveryWorker) {
  EXPECT_EQ(traffic.ShareOn(pool.at(0)).get(), &on0);  // One per worker.
  pool.at(0).RunAndWait([&] {
    on0.Join(&a);
    a.Open().Sent(5, 500);
    a.Open().Drop(core::DropReason::kReplay, 2);
  });
  pool.at(1).RunAndWait([&] {
    on1.Join(&b);
    TunnelCounters& c = b.Open();
    c.rx_packets = 7;
    c.handshakes = 1;
  });
  CountersSnapshot total = traffic.Total();
  EXPECT_EQ(total.tx_packets, 5u);
  EXPECT_EQ(total.tx_bytes, 500u);
  EXPECT_EQ(total.rx_packets, 7u);
  EXPECT_EQ(total.handshakes, 1u);
  EXPECT_EQ(total.dropped(core::DropReason::kReplay), 2u);
  // Closed tunnels still count, and an owner that leaves hands over what
  // its open tunnels counted.
  pool.at(0).RunAndWait([&] {
    a.CloseOldest(on0);
    a.CloseOldest(on0);
    on0.Leave(&a);
  });
  pool.at(1).RunAndWait([&] { on1.Leave(&b); });
  total = traffic.Total();
  EXPECT_EQ(total.tx_packets, 5u);
  EXPECT_EQ(total.dropped(core::DropReason::kReplay), 2u);
  EXPECT_EQ(total.rx_packets, 7u);  // b's tunnel, handed over as b left.
  pool.Stop();
  // A stopped worker's share is summed on the caller's thread.
  EXPECT_EQ(traffic.Total().tx_packets, 5u);
}

// A scrape waits a bounded time: a worker busy past it counts with its last
// sum, and gets no second visit queued behind the first.
TEST_F(RoleTrafficTest, ABusyWorkerCountsWithItsLastSum) {
  TunnelCounters* a_counters = nullptr;
  pool.at(0).RunAndWait([&] {
    on0.Join(&a);
    a_counters = &a.Open();
    a_counters->Sent(1, 10);
  });
  pool.at(1).RunAndWait([&] {
    on1.Join(&b);
    b.Open().Sent(2, 20);
  });
  EXPECT_EQ(traffic.Total(absl::Seconds(30)).tx_packets, 3u);
  // Worker 0 counts one more, then stays busy until released.
  absl::Notification release;
  pool.at(0).Run([&] {
    a_counters->Sent(4, 40);
    release.WaitForNotification();
  });
  pool.at(1).RunAndWait([&] { b.Open().Sent(8, 80); });
  // Worker 1 answers; worker 0's last sum stands in for it.
  EXPECT_EQ(traffic.Total(absl::Seconds(1)).tx_packets, 11u);
  EXPECT_EQ(traffic.Total(absl::Seconds(1)).tx_packets, 11u);
  release.Notify();
  EXPECT_EQ(traffic.Total().tx_packets, 15u);
  pool.at(0).RunAndWait([&] { on0.Leave(&a); });
  pool.at(1).RunAndWait([&] { on1.Leave(&b); });
  EXPECT_EQ(traffic.Total().tx_packets, 15u);  // Handed over as they left.
}

TEST(RoleTrafficChurnTest, TotalNeverGoesBackWhileTunnelsOpenCountAndClose) {
  io::SystemClock clock;
  WorkerPool pool(clock, 2);
  RoleTraffic traffic;
  std::atomic<bool> stop{false};
  FakeOwner owners[2];
  uint64_t counted[2] = {0, 0};  // Each its worker's.
  std::function<void()> steps[2];
  for (size_t w = 0; w < 2; ++w) {
    RoleTraffic::Share& share = *traffic.ShareOn(pool.at(w));
    // Opens a tunnel that sends one payload, closes the oldest past three,
    // and comes back on the next turn of the loop.
    steps[w] = [&, w, share_ptr = &share] {
      if (stop.load()) return;
      FakeOwner& owner = owners[w];
      owner.Open().Sent(1, 10);
      counted[w] += 1;
      while (owner.open() > 3) owner.CloseOldest(*share_ptr);
      pool.at(w).Run(steps[w]);
    };
    pool.at(w).RunAndWait(
        [&, w, share_ptr = &share] { share_ptr->Join(&owners[w]); });
    pool.at(w).Run(steps[w]);
  }
  uint64_t last = 0;
  for (int i = 0; i < 300; ++i) {
    const uint64_t now = traffic.Total().tx_packets;
    ASSERT_GE(now, last) << i;
    last = now;
  }
  stop.store(true);
  uint64_t expected = 0;
  for (size_t w = 0; w < 2; ++w) {
    pool.at(w).RunAndWait([&, w] { expected += counted[w]; });
  }
  EXPECT_GT(expected, 0u);
  EXPECT_EQ(traffic.Total().tx_packets, expected);
  EXPECT_EQ(traffic.Total().tx_bytes, expected * 10);
  pool.Stop();  // Before the steps and owners go.
}

}  // namespace
}  // namespace snaptun::service
