// Memory bounds asserted as bytes held by the component, whatever the peer
// or caller sends: a tunnel port's queues in bytes as well as packets, the
// byte budget all ports share, a watcher's event queue, the identity
// store's size, and the tunnel quota both roles share.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "service/byte_budget.h"
#include "service/event_subscription.h"
#include "service/identity_store.h"
#include "service/tunnel_port.h"
#include "tunnel/core/tunnel_quota.h"

namespace snaptun::service {
namespace {

std::vector<absl::Span<const uint8_t>> Views(const std::vector<uint8_t>& bytes,
                                             size_t count) {
  return std::vector<absl::Span<const uint8_t>>(count,
                                                absl::MakeConstSpan(bytes));
}

// 1 100 payloads of 65 000 bytes with no reader used to pin 65 MB in one
// port; now a port holds at most its byte limit, the rest is counted.
TEST(TunnelPortBoundsTest, ReceiveQueueIsBoundedInBytes) {
  PortLimits limits;
  limits.receive_bytes = size_t{1} << 20;
  TunnelPort port(limits);
  const std::vector<uint8_t> big(65000, 0xAB);
  const auto batch = Views(big, 1100);
  port.DeliverBatch(batch);
  const size_t fits = limits.receive_bytes / TunnelPort::Cost(big.size());
  EXPECT_EQ(port.receive_queued(), fits);
  EXPECT_LE(port.receive_bytes_held(), limits.receive_bytes);
  EXPECT_EQ(port.counters().dropped(core::DropReason::kReceiveQueueFull),
            1100 - fits);
  std::vector<Packet> out;
  EXPECT_EQ(port.Receive(out, 10000, absl::ZeroDuration()), fits);
  EXPECT_EQ(port.receive_bytes_held(), 0u);
}

// Tiny packets are charged their overhead too: a flood of 1-byte payloads
// cannot hold more than the limit either.
TEST(TunnelPortBoundsTest, TinyPacketsAreChargedTheirOverhead) {
  PortLimits limits;
  limits.send_packets = size_t{1} << 20;
  limits.send_bytes = size_t{1} << 20;
  TunnelPort port(limits);
  const std::vector<uint8_t> one(1, 7);
  const size_t accepted = port.SendCopies(Views(one, 1000000));
  EXPECT_EQ(accepted, limits.send_bytes / TunnelPort::Cost(1));
  EXPECT_LE(port.send_bytes_held(), limits.send_bytes);
  std::vector<Packet> out;
  port.TakeOutbound(out, SIZE_MAX);
  EXPECT_EQ(out.size(), accepted);
  EXPECT_EQ(port.send_bytes_held(), 0u);
}

// Four ports with no reader share one budget: together they never hold
// more than it, refusals are counted, and the bytes come back when the
// packets are read or the port goes.
TEST(TunnelPortBoundsTest, PortsShareOneBudget) {
  ByteBudget budget(size_t{2} << 20);
  PortLimits limits;
  limits.receive_bytes = size_t{1} << 20;
  limits.budget = &budget;
  const std::vector<uint8_t> big(65000, 1);
  std::vector<std::unique_ptr<TunnelPort>> ports;
  size_t held = 0;
  for (int i = 0; i < 4; ++i) {
    ports.push_back(std::make_unique<TunnelPort>(limits));
    ports.back()->DeliverBatch(Views(big, 100));
    held += ports.back()->receive_bytes_held();
  }
  EXPECT_LE(held, budget.limit());
  EXPECT_EQ(budget.used(), held);
  EXPECT_GT(budget.refused(), 0u);
  std::vector<Packet> out;
  ports[0]->Receive(out, 10000, absl::ZeroDuration());
  EXPECT_EQ(budget.used(), held - TunnelPort::Cost(big.size()) * out.size());
  ports.clear();
  EXPECT_EQ(budget.used(), 0u);
}

TEST(TunnelPortBoundsTest, ReceiveCapsAWriteInBytesButTakesAtLeastOne) {
  TunnelPort port(PortLimits{});
  const std::vector<uint8_t> big(60000, 2);
  port.DeliverBatch(Views(big, 30));
  std::vector<Packet> out;
  EXPECT_EQ(port.Receive(out, 256, absl::ZeroDuration(), 1 << 20),
            (size_t{1} << 20) / 60000);
  out.clear();
  EXPECT_EQ(port.Receive(out, 256, absl::ZeroDuration(), 100), 1u);
}

SessionEvent EventWithLabels(size_t labels, size_t value_size) {
  auto snapshot = std::make_shared<TunnelSnapshot>();
  snapshot->tunnel_id = "t";
  for (size_t i = 0; i < labels; ++i) {
    snapshot->labels["k" + std::to_string(i)] = std::string(value_size, 'v');
  }
  return SessionEvent{SessionEventType::kOpened, absl::Now(),
                      std::move(snapshot), ""};
}

// 64 labels of 256 bytes per event used to be copied for every watcher, up
// to 4 096 events each. A watcher now holds at most its byte limit and is
// overflowed (its stream ends) beyond it.
TEST(EventSubscriptionBoundsTest, QueueIsBoundedInBytes) {
  SubscriptionLimits limits;
  limits.bytes = 256 << 10;
  EventSubscription watcher("", {}, limits, false);
  const SessionEvent event = EventWithLabels(64, 256);
  size_t pushed = 0;
  while (watcher.Push(event)) ++pushed;
  EXPECT_TRUE(watcher.overflowed());
  EXPECT_EQ(pushed, limits.bytes / EventSubscription::Cost(event));
  EXPECT_LE(watcher.bytes_held(), limits.bytes);
  while (watcher.Pop().has_value()) {
  }
  EXPECT_EQ(watcher.bytes_held(), 0u);
}

TEST(IdentityStoreBoundsTest, HoldsAtMostItsLimitForgettingExpiredFirst) {
  IdentityStore store(2);
  const absl::Time now = absl::FromUnixSeconds(1767225600);
  crypto::PublicKey a{}, b{}, c{};
  a[0] = 1;
  b[0] = 2;
  c[0] = 3;
  ASSERT_TRUE(store.TryGrant(a, now, now + absl::Hours(1), {}).ok());
  ASSERT_TRUE(store.TryGrant(b, now, now + absl::Seconds(1), {}).ok());
  EXPECT_EQ(store.TryGrant(c, now, now + absl::Hours(1), {}).status().code(),
            absl::StatusCode::kResourceExhausted);
  // Renewing a held identity is always allowed.
  EXPECT_TRUE(store.TryGrant(a, now, now + absl::Hours(2), {}).ok());
  // Once b's grant expired, its place is free.
  EXPECT_TRUE(
      store.TryGrant(c, now + absl::Seconds(2), now + absl::Hours(1), {}).ok());
  EXPECT_EQ(store.size(), 2u);
}

TEST(TunnelQuotaTest, BoundsTheSumOfEveryHolder) {
  core::TunnelQuota quota(3);
  EXPECT_TRUE(quota.TryAcquire());
  EXPECT_TRUE(quota.TryAcquire());
  EXPECT_TRUE(quota.TryAcquire());
  EXPECT_FALSE(quota.TryAcquire());
  quota.Release();
  EXPECT_TRUE(quota.TryAcquire());
  EXPECT_EQ(quota.held(), 3u);
}

}  // namespace
}  // namespace snaptun::service
