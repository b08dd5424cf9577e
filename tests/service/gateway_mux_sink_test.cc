// GatewayMuxSink on its own: handles announced once and never reused, fair
// and byte-capped batches, released handles and drops reported once, the
// ready list bounded under churn, and a wake-up for every new payload.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "service/gateway_mux.h"

namespace snaptun::service {
namespace {

core::Endpoint Remote(int i) {
  return core::Endpoint::Ipv4({127, 0, 0, static_cast<uint8_t>(i)}, 4000);
}

std::vector<uint8_t> Bytes(size_t n, uint8_t fill) {
  return std::vector<uint8_t>(n, fill);
}

void Deliver(TunnelPort& port, size_t n, size_t size, uint8_t fill) {
  const std::vector<uint8_t> payload = Bytes(size, fill);
  for (size_t i = 0; i < n; ++i) port.Deliver(payload);
}

class SinkTest : public ::testing::Test {
 protected:
  SinkTest() : sink_(std::make_shared<GatewayMuxSink>([this] { ++wakes_; })) {}
  std::shared_ptr<TunnelPort> Claim(int i) {
    auto port = std::make_shared<TunnelPort>(16, 16);
    sink_->Claim(absl::StrCat("gw-", i), Remote(i), port);
    ports_.push_back(port);
    return port;
  }
  int wakes_ = 0;
  std::shared_ptr<GatewayMuxSink> sink_;
  std::vector<std::shared_ptr<TunnelPort>> ports_;
  MuxBatch batch_;
};

TEST(MuxShardTest, FnvOfTheIdModuloTheCount) {
  // The documented definition, so callers can compute it, and a spread.
  uint64_t h = 14695981039346656037ull;
  for (char c : std::string("gw-1")) {
    h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  }
  EXPECT_EQ(MuxShardOf("gw-1", 7), h % 7);
  EXPECT_EQ(MuxShardOf("anything", 1), 0u);
  size_t in_first = 0;
  for (int i = 0; i < 1000; ++i) {
    in_first += MuxShardOf(absl::StrCat("gw-", i), 2) == 0;
  }
  EXPECT_GT(in_first, 400u);
  EXPECT_LT(in_first, 600u);
}

TEST_F(SinkTest, AnnouncesEachHandleOnceBeforeItsPackets) {
  auto a = Claim(1);
  auto b = Claim(2);
  Deliver(*a, 2, 10, 'a');
  Deliver(*b, 1, 10, 'b');
  EXPECT_GE(wakes_, 2);
  sink_->TakeBatch(100, 1 << 20, batch_);
  ASSERT_EQ(batch_.packets.size(), 3u);
  ASSERT_EQ(batch_.announced.size(), 2u);
  EXPECT_EQ(batch_.announced[0].tunnel_id, "gw-1");
  EXPECT_EQ(batch_.announced[0].remote, Remote(1));
  EXPECT_NE(batch_.announced[0].handle, 0u);
  EXPECT_NE(batch_.announced[0].handle, batch_.announced[1].handle);
  EXPECT_EQ(batch_.handles,
            (std::vector<uint32_t>{batch_.announced[0].handle,
                                   batch_.announced[0].handle,
                                   batch_.announced[1].handle}));
  EXPECT_EQ(batch_.bytes, 30u);
  Deliver(*a, 1, 10, 'a');
  sink_->TakeBatch(100, 1 << 20, batch_);
  EXPECT_TRUE(batch_.announced.empty());
  EXPECT_EQ(batch_.packets.size(), 1u);
  EXPECT_EQ(sink_->PortOf(batch_.handles[0]), a);
  EXPECT_EQ(sink_->PortAt(Remote(2)), b);
  EXPECT_EQ(sink_->PortAt(Remote(3)), nullptr);
}

TEST_F(SinkTest, ABusyTunnelWaitsItsTurnAndBatchesAreCapped) {
  auto busy = Claim(1);
  auto quiet = Claim(2);
  Deliver(*busy, 16, 100, 'x');
  Deliver(*quiet, 1, 100, 'y');
  // 250 bytes: two of the busy tunnel's, then the quiet one's turn comes
  // before the busy one's second (its payload may cross the cap).
  sink_->TakeBatch(100, 250, batch_);
  ASSERT_EQ(batch_.packets.size(), 3u);
  EXPECT_EQ(batch_.packets[0][0], 'x');
  EXPECT_EQ(batch_.packets[2][0], 'y');
  EXPECT_EQ(batch_.bytes, 300u);
  size_t total = 3;
  while (total < 17) {
    sink_->TakeBatch(4, 1 << 20, batch_);
    ASSERT_FALSE(batch_.packets.empty());
    EXPECT_LE(batch_.packets.size(), 4u);
    total += batch_.packets.size();
  }
  sink_->TakeBatch(4, 1 << 20, batch_);
  EXPECT_TRUE(batch_.empty());
}

TEST_F(SinkTest, ReleasedHandlesAndDropsAreReportedOnce) {
  auto a = Claim(1);
  Deliver(*a, 20, 10, 'a');  // 4 over the port's 16.
  sink_->TakeBatch(100, 1 << 20, batch_);
  const uint32_t handle = batch_.handles[0];
  EXPECT_EQ(batch_.dropped, 4u);
  Deliver(*a, 18, 10, 'a');  // 2 more dropped, then released.
  sink_->Release("gw-1", /*keep_callback=*/false);
  EXPECT_EQ(sink_->PortOf(handle), nullptr);
  sink_->TakeBatch(100, 1 << 20, batch_);
  EXPECT_EQ(batch_.released, std::vector<uint32_t>{handle});
  EXPECT_EQ(batch_.dropped, 2u);
  EXPECT_TRUE(batch_.packets.empty());
  sink_->TakeBatch(100, 1 << 20, batch_);
  EXPECT_TRUE(batch_.empty());
  EXPECT_EQ(batch_.dropped, 0u);
  // Claimed again: a new handle, and old drops are not reported again.
  sink_->Claim("gw-1", Remote(1), a);
  sink_->TakeBatch(100, 1 << 20, batch_);
  ASSERT_FALSE(batch_.handles.empty());
  EXPECT_NE(batch_.handles[0], handle);
  EXPECT_EQ(batch_.dropped, 0u);
}

TEST_F(SinkTest, ChurnDoesNotGrowTheReadyList) {
  // A writer that never takes: tunnels become ready and are released.
  for (int round = 0; round < 5000; ++round) {
    auto port = std::make_shared<TunnelPort>(4, 4);
    const std::string id = absl::StrCat("churn-", round);
    sink_->Claim(id, Remote(round % 200), port);
    port->Deliver(Bytes(10, 'c'));
    sink_->Release(id, false);
  }
  EXPECT_EQ(sink_->tunnels(), 0u);
  sink_->TakeBatch(100, 1 << 20, batch_);
  EXPECT_TRUE(batch_.packets.empty());
  EXPECT_TRUE(batch_.released.empty());  // None was announced.
}

TEST(SinkCapTest, ReleasesBeyondTheCapAreCountedNotKept) {
  auto sink = std::make_shared<GatewayMuxSink>([] {}, /*max_released=*/2);
  std::vector<std::shared_ptr<TunnelPort>> ports;
  for (int i = 0; i < 5; ++i) {
    ports.push_back(std::make_shared<TunnelPort>(4, 4));
    sink->Claim(absl::StrCat("gw-", i), Remote(i), ports.back());
    ports.back()->Deliver(Bytes(10, 'r'));
  }
  MuxBatch batch;
  sink->TakeBatch(100, 1 << 20, batch);
  ASSERT_EQ(batch.announced.size(), 5u);
  // The reader stops reading; five tunnels leave.
  for (int i = 0; i < 5; ++i) sink->Release(absl::StrCat("gw-", i), false);
  EXPECT_EQ(sink->released_forgotten(), 3u);
  sink->TakeBatch(100, 1 << 20, batch);
  EXPECT_EQ(batch.released.size(), 2u);
}

TEST_F(SinkTest, EveryNewPayloadWakesTheWriter) {
  auto a = Claim(1);
  Deliver(*a, 1, 10, 'a');
  const int before = wakes_;
  // Ready and not yet taken: a second edge cannot happen (the queue is not
  // empty), but a take that empties it and a new delivery must wake again.
  sink_->TakeBatch(100, 1 << 20, batch_);
  Deliver(*a, 1, 10, 'a');
  EXPECT_GT(wakes_, before);
  sink_->TakeBatch(100, 1 << 20, batch_);
  EXPECT_EQ(batch_.packets.size(), 1u);
}

TEST_F(SinkTest, ReleaseAllLeavesThePortsAlone) {
  auto a = Claim(1);
  sink_->ReleaseAll();
  const int before = wakes_;
  Deliver(*a, 1, 10, 'a');
  EXPECT_EQ(wakes_, before);
  EXPECT_EQ(sink_->tunnels(), 0u);
}

}  // namespace
}  // namespace snaptun::service
