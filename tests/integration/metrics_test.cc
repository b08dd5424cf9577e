// Every counter the data plane exports is driven by the code path it names:
// each scenario provokes one cause on real loopback sockets and asserts that
// the matching series of snaptun_packets_dropped_total or
// snaptun_handshake_failures_total moved by exactly the expected amount and
// that unrelated series did not move. Crafted datagrams come from a RawPeer,
// a protocol Peer driven by hand over its own socket.
#include <poll.h>
#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "metrics/worker_metrics.h"
#include "service/client_tunnel.h"
#include "service/dataplane_metrics.h"
#include "service/gateway.h"
#include "service/identity_store.h"
#include "service/worker.h"
#include "tests/integration/gateway_recorder.h"
#include "tests/testing/keys.h"
#include "tunnel/io/udp_socket.h"

namespace snaptun {
namespace {

using metrics::Labels;

const core::Endpoint kLoopback = core::Endpoint::Ipv4({127, 0, 0, 1}, 0);

// A client that speaks the protocol by hand, to send exactly the datagrams a
// test needs, valid or not.
class RawPeer {
 public:
  RawPeer(uint8_t key, const crypto::PublicKey& gateway_key,
          const core::Endpoint& gateway)
      : identity_(testing::FilledKey(key)),
        peer_(identity_, gateway_key, core::PeerConfig{}, rng_),
        gateway_(gateway),
        socket_(*io::UdpSocket::Connect(gateway, {})) {}

  const crypto::PublicKey& public_key() const { return identity_.public_key(); }

  std::vector<uint8_t> Initiation() {
    core::PeerOutput out;
    peer_.Connect(absl::Now(), out);
    return out.to_network.at(0);
  }
  void Send(const std::vector<uint8_t>& datagram) {
    ASSERT_EQ(send(socket_.fd(), datagram.data(), datagram.size(), 0),
              static_cast<ssize_t>(datagram.size()));
  }
  std::optional<std::vector<uint8_t>> Receive(absl::Duration timeout) {
    pollfd p{socket_.fd(), POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) <=
        0) {
      return std::nullopt;
    }
    std::vector<uint8_t> buffer(2048);
    const ssize_t n = recv(socket_.fd(), buffer.data(), buffer.size(), 0);
    if (n < 0) return std::nullopt;
    buffer.resize(static_cast<size_t>(n));
    return buffer;
  }
  // A full handshake, confirmed with the keepalive the initiator sends.
  bool Handshake() {
    Send(Initiation());
    std::optional<std::vector<uint8_t>> response = Receive(absl::Seconds(10));
    if (!response.has_value()) return false;
    core::PeerOutput out;
    peer_.Receive(absl::Now(), core::MessageType::kResponse,
                  absl::MakeSpan(*response), gateway_, out);
    for (const auto& d : out.to_network) Send(d);
    return peer_.Established(absl::Now());
  }
  std::vector<uint8_t> Seal(const std::string& text) {
    std::vector<uint8_t> datagram(
        core::Peer::SealedSize(text.size(), core::Mode::kSnap));
    core::PeerOutput out;
    const core::SendResult r = peer_.Send(
        absl::Now(),
        absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(text.data()),
                            text.size()),
        absl::MakeSpan(datagram), out);
    datagram.resize(r.size);
    return datagram;
  }

 private:
  crypto::SystemRandom rng_;
  core::LocalIdentity identity_;
  core::Peer peer_;
  core::Endpoint gateway_;
  io::UdpSocket socket_;
};

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override { StartGateway(core::RateLimiterConfig{}); }
  void TearDown() override {
    for (auto& t : tunnels_) t->Close();
    if (gateway_) gateway_->Stop();
    pool_.Stop();
  }
  void StartGateway(const core::RateLimiterConfig& limits,
                    int receive_buffer = 4 << 20) {
    if (gateway_) gateway_->Stop();
    service::GatewayConfig config;
    config.listen = kLoopback;
    config.metrics = &metrics_;
    config.table.rate_limiter = limits;
    config.socket.receive_buffer_bytes = receive_buffer;
    gateway_ = *service::Gateway::Start(pool_, gateway_identity_, identities_,
                                        config, &recorder_);
  }
  void Authorize(const crypto::PublicKey& key) {
    identities_.Grant(key, absl::Now(), absl::InfiniteFuture(), {});
  }

  double Value(const std::string& name, const Labels& labels) {
    std::vector<prometheus::MetricFamily> families = workers_.Collect();
    for (prometheus::MetricFamily& f : registry_.Collect()) {
      families.push_back(std::move(f));
    }
    for (const prometheus::MetricFamily& f : families) {
      if (f.name != name) continue;
      for (const prometheus::ClientMetric& m : f.metric) {
        Labels have;
        for (const auto& label : m.label) have[label.name] = label.value;
        if (have != labels) continue;
        switch (f.type) {
          case prometheus::MetricType::Histogram:
            return static_cast<double>(m.histogram.sample_count);
          case prometheus::MetricType::Gauge:
            return m.gauge.value;
          default:
            return m.counter.value;
        }
      }
    }
    ADD_FAILURE() << "no series " << name;
    return -1;
  }
  double Drops(const std::string& role, const std::string& reason) {
    return Value("snaptun_packets_dropped_total",
                 {{"role", role}, {"reason", reason}});
  }
  double Initiations(const std::string& outcome) {
    return Value("snaptun_handshake_initiations_received_total",
                 {{"role", "gateway"}, {"outcome", outcome}});
  }
  double Failures(const std::string& role, const std::string& reason) {
    return Value("snaptun_handshake_failures_total",
                 {{"role", role}, {"reason", reason}});
  }
  double Packets(const std::string& role, const std::string& direction) {
    return Value("snaptun_packets_total",
                 {{"role", role}, {"direction", direction}});
  }
  service::ClientTunnelConfig ClientConfig() {
    service::ClientTunnelConfig config;
    config.peer_public_key = gateway_identity_.public_key();
    config.data_plane = gateway_->local_address();
    auto role = std::make_shared<service::ClientRoleConfig>();
    role->metrics = &metrics_;
    config.role = role;
    return config;
  }
  // Sum over every drop reason of a role.
  double AllDrops(const std::string& role) {
    double total = 0;
    for (size_t i = 1; i < core::kDropReasonCount; ++i) {
      total += Drops(
          role,
          std::string(core::DropReasonName(static_cast<core::DropReason>(i))));
    }
    return total;
  }
  // Waits, with a bound, until `read` returns `want`.
  template <typename F>
  void Eventually(F read, double want) {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (read() != want && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    EXPECT_EQ(read(), want);
  }

  // System time, until a test freezes it.
  class FreezableClock final : public io::Clock {
   public:
    absl::Time Now() override {
      absl::MutexLock lock(&mu_);
      return frozen_.has_value() ? *frozen_ : system_.Now();
    }
    void Freeze() {
      const absl::Time now = system_.Now();
      absl::MutexLock lock(&mu_);
      frozen_ = now;
    }

   private:
    io::SystemClock system_;
    absl::Mutex mu_;
    std::optional<absl::Time> frozen_ ABSL_GUARDED_BY(mu_);
  };

  FreezableClock clock_;
  service::WorkerPool pool_{clock_, 2};
  prometheus::Registry registry_;
  metrics::WorkerMetrics workers_;
  service::DataPlaneMetrics metrics_{registry_, workers_};
  core::LocalIdentity gateway_identity_{testing::FilledKey(2)};
  service::IdentityStore identities_;
  testing::GatewayRecorder recorder_;
  std::unique_ptr<service::Gateway> gateway_;
  std::vector<std::shared_ptr<service::ClientTunnel>> tunnels_;
};

TEST_F(MetricsTest, HandshakesTrafficAndTunnelGauges) {
  const core::LocalIdentity client(testing::FilledKey(1));
  Authorize(client.public_key());
  service::ClientTunnelConfig config = ClientConfig();
  auto tunnel = service::ClientTunnel::Connect(pool_.at(0), client, config);
  ASSERT_TRUE(tunnel.ok()) << tunnel.status();
  tunnels_.push_back(*tunnel);
  for (const std::string text : {"a", "bb", "ccc"}) {
    (*tunnel)->port()->Send(service::Packet(text.begin(), text.end()));
  }
  auto port =
      recorder_.WaitForPort(*(*tunnel)->local_address(), absl::Seconds(10));
  ASSERT_NE(port, nullptr);
  Eventually([&] { return Packets("gateway", "rx"); }, 3);
  EXPECT_EQ(
      Value("snaptun_bytes_total", {{"role", "gateway"}, {"direction", "rx"}}),
      6);
  EXPECT_EQ(Packets("client", "tx"), 3);
  EXPECT_EQ(Value("snaptun_handshakes_initiated_total", {{"role", "client"}}),
            1);
  EXPECT_EQ(Value("snaptun_handshakes_completed_total", {{"role", "client"}}),
            1);
  EXPECT_EQ(Value("snaptun_handshake_duration_seconds", {{"role", "client"}}),
            1);
  Eventually(
      [&] {
        return Value("snaptun_handshakes_completed_total",
                     {{"role", "gateway"}});
      },
      1);
  EXPECT_EQ(
      Value("snaptun_tunnels", {{"role", "client"}, {"state", "established"}}),
      1);
  EXPECT_EQ(
      Value("snaptun_tunnels", {{"role", "gateway"}, {"state", "established"}}),
      1);
  EXPECT_EQ(
      Value("snaptun_tunnels", {{"role", "gateway"}, {"state", "connecting"}}),
      0);
  EXPECT_EQ(AllDrops("client") + AllDrops("gateway"), 0);

  (*tunnel)->Close();
  Eventually(
      [&] {
        return Value("snaptun_tunnels",
                     {{"role", "client"}, {"state", "established"}});
      },
      0);
  gateway_->Stop();
  EXPECT_EQ(
      Value("snaptun_tunnels", {{"role", "gateway"}, {"state", "established"}}),
      0);
}

TEST_F(MetricsTest, GarbageIsInvalidPacketAndStrangersAreNoTunnel) {
  RawPeer raw(40, gateway_identity_.public_key(), gateway_->local_address());
  for (int i = 0; i < 3; ++i) raw.Send({9, 0, 0, 0, 1, 2, 3});
  std::vector<uint8_t> transport(48, 0);
  transport[0] = 4;
  raw.Send(transport);
  raw.Send(transport);
  Eventually([&] { return Drops("gateway", "invalid_packet"); }, 3);
  Eventually([&] { return Drops("gateway", "no_tunnel"); }, 2);
  EXPECT_EQ(AllDrops("gateway"), 5);
}

// Datagrams the kernel drops on a full socket buffer used to vanish
// without a trace. With the gateway's workers held up and a small receive
// buffer, a burst overflows it; afterwards every datagram sent is accounted
// for: read by the gateway, or counted as socket_overflow.
TEST_F(MetricsTest, KernelDropsAreCountedAndEveryDatagramIsAccountedFor) {
  StartGateway(core::RateLimiterConfig{}, 64 << 10);
  absl::Notification release;
  for (size_t i = 0; i < pool_.size(); ++i) {
    pool_.at(i).loop().Post([&release] {
      release.WaitForNotificationWithTimeout(absl::Seconds(20));
    });
  }
  io::UdpSocket socket = *io::UdpSocket::Connect(gateway_->local_address(), {});
  const std::vector<uint8_t> junk(1200, 0xEE);  // Not a protocol message.
  uint64_t sent = 0;
  for (int i = 0; i < 2000; ++i) {
    sent += send(socket.fd(), junk.data(), junk.size(), 0) ==
            static_cast<ssize_t>(junk.size());
  }
  release.Notify();
  // One more after the backlog, so a read reports the final drop count.
  absl::SleepFor(absl::Milliseconds(200));
  sent += send(socket.fd(), junk.data(), junk.size(), 0) ==
          static_cast<ssize_t>(junk.size());
  auto accounted = [&] {
    return static_cast<double>(gateway_->stats().datagrams_received) +
           Drops("gateway", "socket_overflow");
  };
  Eventually(accounted, static_cast<double>(sent));
  EXPECT_GT(Drops("gateway", "socket_overflow"), 0);
  EXPECT_EQ(Drops("gateway", "invalid_packet"),
            static_cast<double>(gateway_->stats().datagrams_received));
}

TEST_F(MetricsTest, HandshakeFailuresByReason) {
  RawPeer stranger(41, gateway_identity_.public_key(),
                   gateway_->local_address());
  stranger.Send(stranger.Initiation());
  Eventually([&] { return Failures("gateway", "unauthorized"); }, 1);
  EXPECT_EQ(Drops("gateway", "unauthorized"), 1);

  RawPeer forger(42, gateway_identity_.public_key(), gateway_->local_address());
  Authorize(forger.public_key());
  std::vector<uint8_t> bad_mac = forger.Initiation();
  bad_mac[bad_mac.size() - 20] ^= 1;  // Inside mac1.
  forger.Send(bad_mac);
  Eventually([&] { return Failures("gateway", "invalid_mac"); }, 1);
  EXPECT_EQ(Drops("gateway", "invalid_packet"), 1);

  // A valid initiation, then the same bytes from another address.
  RawPeer original(43, gateway_identity_.public_key(),
                   gateway_->local_address());
  Authorize(original.public_key());
  const std::vector<uint8_t> initiation = original.Initiation();
  original.Send(initiation);
  ASSERT_TRUE(original.Receive(absl::Seconds(10)).has_value());
  RawPeer replayer(44, gateway_identity_.public_key(),
                   gateway_->local_address());
  replayer.Send(initiation);
  Eventually([&] { return Failures("gateway", "stale_timestamp"); }, 1);
  EXPECT_EQ(Drops("gateway", "replay"), 1);
  EXPECT_FALSE(replayer.Receive(absl::Milliseconds(200)).has_value());
  EXPECT_EQ(Failures("gateway", "decrypt_failed") +
                Failures("gateway", "rate_limited") +
                Failures("gateway", "timeout") +
                Failures("gateway", "address_rejected"),
            0);
  // Four initiations reached the gateway: only the original was answered.
  EXPECT_EQ(Initiations("answered"), 1);
  EXPECT_EQ(Initiations("refused"), 3);
  EXPECT_EQ(Initiations("cookie"), 0);
}

TEST_F(MetricsTest, CorruptAndReplayedTransportPackets) {
  RawPeer client(45, gateway_identity_.public_key(), gateway_->local_address());
  Authorize(client.public_key());
  ASSERT_TRUE(client.Handshake());
  std::vector<uint8_t> good = client.Seal("payload");
  std::vector<uint8_t> corrupt = client.Seal("payload");
  corrupt.back() ^= 0x80;  // The tag.
  client.Send(good);
  client.Send(good);  // Replay.
  client.Send(corrupt);
  Eventually([&] { return Drops("gateway", "replay"); }, 1);
  Eventually([&] { return Drops("gateway", "decrypt_failed"); }, 1);
  EXPECT_EQ(Packets("gateway", "rx"), 1);
}

TEST_F(MetricsTest, RateLimitedHandshakesAndCookies) {
  core::RateLimiterConfig limits;
  limits.per_source_soft = 1;
  limits.per_source_hard = 2;
  StartGateway(limits);
  // Three initiations from one source within a second: the first is
  // admitted (and refused as unauthorized), the second gets a cookie reply,
  // the third is over the hard limit. The gateway's clock stands still, so
  // all three fall in one window however slow the machine.
  clock_.Freeze();
  for (uint8_t key = 50; key < 53; ++key) {
    RawPeer raw(key, gateway_identity_.public_key(), gateway_->local_address());
    raw.Send(raw.Initiation());
  }
  Eventually([&] { return Failures("gateway", "rate_limited"); }, 2);
  EXPECT_EQ(Drops("gateway", "rate_limited"), 2);
  EXPECT_EQ(Value("snaptun_cookie_replies_total", {{"direction", "sent"}}), 1);
  EXPECT_EQ(Failures("gateway", "unauthorized"), 1);
  EXPECT_EQ(Initiations("answered"), 0);
  EXPECT_EQ(Initiations("cookie"), 1);
  EXPECT_EQ(Initiations("refused"), 2);
}

TEST_F(MetricsTest, ConnectTimeoutCountsAClientTimeout) {
  const core::LocalIdentity stranger(testing::FilledKey(60));
  service::ClientTunnelConfig config = ClientConfig();
  config.connect_timeout = absl::Milliseconds(500);
  auto tunnel = service::ClientTunnel::Connect(pool_.at(0), stranger, config);
  EXPECT_EQ(tunnel.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(Failures("client", "timeout"), 1);
  EXPECT_EQ(Value("snaptun_handshakes_initiated_total", {{"role", "client"}}),
            1);
  EXPECT_EQ(
      Value("snaptun_tunnels", {{"role", "client"}, {"state", "connecting"}}),
      0);
}

TEST_F(MetricsTest, FullReceiveQueueCountsEachDroppedPayload) {
  const core::LocalIdentity client(testing::FilledKey(61));
  Authorize(client.public_key());
  service::ClientTunnelConfig config = ClientConfig();
  config.receive_packets = 2;
  auto tunnel = service::ClientTunnel::Connect(pool_.at(0), client, config);
  ASSERT_TRUE(tunnel.ok());
  tunnels_.push_back(*tunnel);
  (*tunnel)->port()->Send({1});
  auto port =
      recorder_.WaitForPort(*(*tunnel)->local_address(), absl::Seconds(10));
  ASSERT_NE(port, nullptr);
  Eventually([&] { return Packets("gateway", "rx"); }, 1);
  for (int i = 0; i < 5; ++i) port->Send({static_cast<uint8_t>(i)});
  // Each payload counted once: two delivered (rx), three dropped, in the
  // metrics as on the tunnel's own counters.
  Eventually([&] { return Drops("client", "receive_queue_full"); }, 3);
  EXPECT_EQ(Packets("client", "rx"), 2);
  EXPECT_EQ((*tunnel)->port()->receive_queued(), 2u);
  const service::CountersSnapshot own =
      (*tunnel)->port()->counters().Snapshot();
  EXPECT_EQ(own.rx_packets, 2u);
  EXPECT_EQ(own.dropped(core::DropReason::kReceiveQueueFull), 3u);
}

// Counted once: a role's packet and byte series are the sums of its
// tunnels' own counters (what GetTunnel shows), over the tunnels open now
// and those that closed; Gateway::stats reads the same count.
TEST_F(MetricsTest, RoleTotalsAreTheSumOfTheTunnelsOwnCounts) {
  struct Pair {
    std::shared_ptr<service::ClientTunnel> client;
    std::shared_ptr<service::TunnelPort> gateway;
  };
  std::vector<Pair> pairs;
  for (size_t i = 0; i < 2; ++i) {
    const core::LocalIdentity client(testing::FilledKey(70 + i));
    Authorize(client.public_key());
    auto tunnel =
        service::ClientTunnel::Connect(pool_.at(i), client, ClientConfig());
    ASSERT_TRUE(tunnel.ok());
    tunnels_.push_back(*tunnel);
    auto port =
        recorder_.WaitForPort(*(*tunnel)->local_address(), absl::Seconds(10));
    ASSERT_NE(port, nullptr);
    pairs.push_back({*tunnel, port});
  }
  // Tunnel i sends i + 1 payloads of 10 bytes each way.
  for (size_t i = 0; i < pairs.size(); ++i) {
    for (size_t n = 0; n <= i; ++n) {
      pairs[i].client->port()->Send(service::Packet(10, 1));
      pairs[i].gateway->Send(service::Packet(10, 2));
    }
  }
  Eventually([&] { return Packets("gateway", "rx"); }, 3);
  Eventually([&] { return Packets("client", "rx"); }, 3);
  auto sum = [&](auto side) {
    service::CountersSnapshot total;
    for (const Pair& pair : pairs) total.Add(side(pair).counters().Snapshot());
    return total;
  };
  auto client_side = [](const Pair& p) -> service::TunnelPort& {
    return *p.client->port();
  };
  auto gateway_side = [](const Pair& p) -> service::TunnelPort& {
    return *p.gateway;
  };
  auto expect_views = [&] {
    const service::CountersSnapshot clients = sum(client_side);
    const service::CountersSnapshot gateways = sum(gateway_side);
    EXPECT_EQ(Packets("client", "tx"), clients.tx_packets);
    EXPECT_EQ(Packets("client", "rx"), clients.rx_packets);
    EXPECT_EQ(
        Value("snaptun_bytes_total", {{"role", "client"}, {"direction", "tx"}}),
        clients.tx_bytes);
    EXPECT_EQ(Packets("gateway", "tx"), gateways.tx_packets);
    EXPECT_EQ(Packets("gateway", "rx"), gateways.rx_packets);
    EXPECT_EQ(Value("snaptun_handshakes_completed_total", {{"role", "client"}}),
              clients.handshakes);
    const service::GatewayStats stats = gateway_->stats();
    EXPECT_EQ(stats.rx_packets, gateways.rx_packets);
    EXPECT_EQ(stats.tx_bytes, gateways.tx_bytes);
    EXPECT_EQ(stats.handshakes, gateways.handshakes);
  };
  expect_views();
  EXPECT_EQ(sum(client_side).tx_bytes, 30u);
  // The first pair closes on both sides: its counts stay in the totals.
  pairs[0].client->Close();
  gateway_->CloseTunnelAsync(pairs[0].gateway->remote(), pairs[0].gateway);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!pairs[0].gateway->closed() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_TRUE(pairs[0].gateway->closed());
  expect_views();
  // The open one carries on, counted on top.
  pairs[1].client->port()->Send(service::Packet(10, 3));
  Eventually([&] { return Packets("gateway", "rx"); }, 4);
  expect_views();
}

}  // namespace
}  // namespace snaptun
