// Backoff growth (the reference never grew, W1), the bounded tunnel port in
// both directions, and identity grants with expiry and their precomputed
// static-static secrets.
#include <algorithm>
#include <atomic>
#include <thread>

#include "gtest/gtest.h"
#include "service/backoff.h"
#include "service/identity_store.h"
#include "service/tunnel_port.h"
#include "tests/testing/fake_random.h"
#include "tests/testing/keys.h"
#include "tunnel/core/noise.h"

namespace snaptun::service {
namespace {

TEST(BackoffTest, GrowsWithJitterUpToTheCapAndResets) {
  testing::FakeRandom rng(7);
  BackoffPolicy policy;
  policy.initial = absl::Seconds(1);
  policy.max = absl::Seconds(30);
  policy.multiplier = 2.0;
  policy.jitter = 0.2;
  Backoff backoff(policy);
  double expected = 1.0;
  for (int i = 0; i < 10; ++i) {
    const double delay = absl::ToDoubleSeconds(backoff.Next(rng));
    const double base = std::min(expected, 30.0);
    EXPECT_GE(delay, base * 0.8 - 1e-9) << i;
    EXPECT_LE(delay, base * 1.2 + 1e-9) << i;
    expected *= 2;
  }
  EXPECT_EQ(backoff.attempts(), 10);
  backoff.Reset();
  EXPECT_LE(absl::ToDoubleSeconds(backoff.Next(rng)), 1.2);
}

TEST(BackoffTest, JitterSpreadsDelays) {
  testing::FakeRandom rng(9);
  BackoffPolicy policy;
  double lowest = 1e9;
  double highest = 0;
  for (int i = 0; i < 100; ++i) {
    Backoff backoff(policy);
    const double d = absl::ToDoubleSeconds(backoff.Next(rng));
    lowest = std::min(lowest, d);
    highest = std::max(highest, d);
  }
  EXPECT_LT(lowest, 0.9);
  EXPECT_GT(highest, 1.1);
}

TEST(TunnelPortTest, FullReceiveQueueDropsAndCounts) {
  TunnelPort port(/*receive_capacity=*/2, /*send_capacity=*/2);
  const uint8_t data[] = {1, 2, 3};
  port.Deliver(data);
  port.Deliver(data);
  port.Deliver(data);
  EXPECT_EQ(port.receive_queued(), 2u);
  EXPECT_EQ(port.counters().dropped(core::DropReason::kReceiveQueueFull), 1u);
  EXPECT_EQ(port.counters().rx_packets.load(), 2u);
  std::vector<Packet> got;
  EXPECT_EQ(port.Receive(got, 10, absl::ZeroDuration()), 2u);
  EXPECT_EQ(got[0], Packet({1, 2, 3}));
}

TEST(TunnelPortTest, SendWakesOncePerBurstAndRefusesWhenFull) {
  std::atomic<int> wakes{0};
  const core::Endpoint remote = core::Endpoint::Ipv4({192, 0, 2, 7}, 4000);
  PortLimits limits;
  limits.receive_packets = 4;
  limits.send_packets = 3;
  TunnelPort port(PortContext::Make(limits,
                                    [&](const core::Endpoint& to) {
                                      EXPECT_EQ(to, remote);  // Its remote.
                                      ++wakes;
                                    }),
                  remote);
  EXPECT_EQ(port.Send({1}), TunnelPort::SendStatus::kAccepted);
  EXPECT_EQ(port.Send({2}), TunnelPort::SendStatus::kAccepted);
  EXPECT_EQ(port.Send({3}), TunnelPort::SendStatus::kAccepted);
  EXPECT_EQ(port.Send({4}), TunnelPort::SendStatus::kFull);
  EXPECT_EQ(wakes.load(), 1);
  std::vector<Packet> out;
  EXPECT_EQ(port.TakeOutbound(out, 2), 2u);
  EXPECT_EQ(port.Send({5}), TunnelPort::SendStatus::kAccepted);
  EXPECT_EQ(wakes.load(), 1);  // The drain is still pending.
  EXPECT_EQ(port.TakeOutbound(out, 10), 2u);
  EXPECT_EQ(port.Send({6}), TunnelPort::SendStatus::kAccepted);
  EXPECT_EQ(wakes.load(), 2);
  // A closed port wakes its owner no more.
  EXPECT_EQ(port.TakeOutbound(out, 10), 1u);
  port.Close();
  EXPECT_EQ(port.Send({7}), TunnelPort::SendStatus::kClosed);
  EXPECT_EQ(wakes.load(), 2);
}

// Ports of one owner share its context (one set of limits); each counts
// its own drops, and nothing else counts them a second time.
TEST(TunnelPortTest, PortsShareTheirOwnersContext) {
  PortLimits limits;
  limits.receive_packets = 1;
  auto context = PortContext::Make(limits);
  TunnelPort a(context, core::Endpoint::Ipv4({192, 0, 2, 1}, 1));
  TunnelPort b(context, core::Endpoint::Ipv4({192, 0, 2, 2}, 2));
  const std::vector<uint8_t> data = {1, 2, 3};
  for (TunnelPort* port : {&a, &b}) {
    port->Deliver(data);
    port->Deliver(data);  // Beyond the one packet the limits allow.
  }
  CountersSnapshot both;
  a.counters().AddTo(both);
  b.counters().AddTo(both);
  EXPECT_EQ(both.dropped(core::DropReason::kReceiveQueueFull), 2u);
  EXPECT_EQ(both.rx_packets, 2u);
  EXPECT_EQ(both.rx_bytes, 6u);
  EXPECT_EQ(a.counters().dropped(core::DropReason::kReceiveQueueFull), 1u);
  EXPECT_EQ(b.remote(), core::Endpoint::Ipv4({192, 0, 2, 2}, 2));
  // Nothing to wake: a send is queued all the same.
  EXPECT_EQ(a.Send({1}), TunnelPort::SendStatus::kAccepted);
}

// A carrier's refusal counts on the port while it is open; once closed,
// the port's counts have gone to the role, so it tells the carrier to
// count the drop there instead.
TEST(TunnelPortTest, CarrierDropsCountOnTheOpenPortOnly) {
  TunnelPort port(4, 4);
  EXPECT_TRUE(port.CountDrop(core::DropReason::kStreamBackpressure, 3));
  port.Close();
  EXPECT_FALSE(port.CountDrop(core::DropReason::kStreamBackpressure, 2));
  const CountersSnapshot counts = port.counters().Snapshot();
  EXPECT_EQ(counts.dropped(core::DropReason::kStreamBackpressure), 3u);
}

TEST(TunnelPortTest, CloseWakesReceiversAndRefusesSends) {
  TunnelPort port(4, 4);
  int ready = 0;
  port.SetReceiveReady([&] { ++ready; });
  port.Close();
  EXPECT_EQ(ready, 1);
  EXPECT_TRUE(port.closed());
  EXPECT_EQ(port.Send({1}), TunnelPort::SendStatus::kClosed);
  std::vector<Packet> got;
  EXPECT_EQ(port.Receive(got, 1, absl::Seconds(10)), 0u);  // Returns at once.
}

// A tunnel that never drops holds no drop cells; the first drops, even from
// two threads at once, allocate them once and lose no count.
TEST(TunnelCountersTest, DropCellsAppearWithTheFirstDropAndCountEverything) {
  TunnelCounters counters;
  for (size_t i = 0; i < core::kDropReasonCount; ++i) {
    EXPECT_EQ(counters.dropped(static_cast<core::DropReason>(i)), 0u);
  }
  constexpr int kPerThread = 10000;
  auto drop = [&counters](core::DropReason reason) {
    for (int i = 0; i < kPerThread; ++i) counters.Drop(reason);
  };
  std::thread a(drop, core::DropReason::kReceiveQueueFull);
  std::thread b(drop, core::DropReason::kReceiveQueueFull);
  drop(core::DropReason::kNoTunnel);
  a.join();
  b.join();
  EXPECT_EQ(counters.dropped(core::DropReason::kReceiveQueueFull),
            2u * kPerThread);
  EXPECT_EQ(counters.dropped(core::DropReason::kNoTunnel), 1u * kPerThread);
  counters.Drop(core::DropReason::kOversize, 7);
  EXPECT_EQ(counters.dropped(core::DropReason::kOversize), 7u);
  EXPECT_EQ(counters.dropped(core::DropReason::kReplay), 0u);
}

TEST(IdentityStoreTest, GrantsExpireAndRenewalsBumpTheVersion) {
  IdentityStore store;
  crypto::PublicKey key{};
  key[0] = 1;
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_FALSE(store.Authorize(t0, key).has_value());
  store.Grant(key, t0, t0 + absl::Seconds(10), {{"team", "a"}});
  std::optional<core::Grant> first = store.Authorize(t0, key);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->expires_at, t0 + absl::Seconds(10));
  EXPECT_FALSE(store.Authorize(t0 + absl::Seconds(10), key).has_value());
  store.Grant(key, t0 + absl::Seconds(5), t0 + absl::Seconds(60), {});
  std::optional<core::Grant> renewed =
      store.Authorize(t0 + absl::Seconds(20), key);
  ASSERT_TRUE(renewed.has_value());
  EXPECT_GT(renewed->version, first->version);
  EXPECT_EQ(store.List(t0).size(), 1u);
  EXPECT_TRUE(store.List(t0 + absl::Seconds(61)).empty());
  EXPECT_EQ(store.size(), 0u);  // Expired records are forgotten.
  EXPECT_FALSE(store.Revoke(key));
}

// With the gateway's identity, a grant carries DH(gateway static, identity)
// for the handshake (one X25519 less); renewals keep it, revocation and
// expiry forget it with the grant, and a store without the gateway's
// identity (or a low-order key) offers none.
TEST(IdentityStoreTest, PrecomputesTheStaticSecretPerGrant) {
  const core::LocalIdentity gateway(testing::FilledKey(2));
  const core::LocalIdentity client(testing::FilledKey(1));
  const crypto::PublicKey& key = client.public_key();
  IdentityStore store(16, &gateway);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_FALSE(store.PrecomputedStaticSecret(key).has_value());

  store.Grant(key, t0, t0 + absl::Seconds(10), {});
  std::optional<crypto::SymmetricKey> secret =
      store.PrecomputedStaticSecret(key);
  ASSERT_TRUE(secret.has_value());
  const std::optional<crypto::SymmetricKey> expected =
      core::StaticSecret(client, gateway.public_key());
  ASSERT_TRUE(expected.has_value());
  EXPECT_TRUE(std::equal(secret->span().begin(), secret->span().end(),
                         expected->span().begin()));

  store.Grant(key, t0, t0 + absl::Seconds(60), {});
  EXPECT_TRUE(store.PrecomputedStaticSecret(key).has_value());
  EXPECT_TRUE(store.Revoke(key));
  EXPECT_FALSE(store.PrecomputedStaticSecret(key).has_value());

  store.Grant(key, t0, t0 + absl::Seconds(10), {});
  EXPECT_EQ(store.PurgeExpired(t0 + absl::Seconds(10)), 1u);
  EXPECT_FALSE(store.PrecomputedStaticSecret(key).has_value());

  store.Grant(crypto::PublicKey{}, t0, t0 + absl::Seconds(10), {});
  EXPECT_TRUE(store.Authorize(t0, crypto::PublicKey{}).has_value());
  EXPECT_FALSE(store.PrecomputedStaticSecret(crypto::PublicKey{}).has_value());

  IdentityStore without(16);
  without.Grant(key, t0, t0 + absl::Seconds(10), {});
  EXPECT_FALSE(without.PrecomputedStaticSecret(key).has_value());
}

}  // namespace
}  // namespace snaptun::service
