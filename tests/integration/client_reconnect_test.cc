// A client tunnel whose gateway disappears, on a fake clock (the worker's
// timers fire when the test moves time) and the in-memory network (no
// datagram is lost to the kernel's timing, so four simulated minutes take
// milliseconds and always see the same datagrams):
//   - it notices within the liveness bound (W27) and reconnects;
//   - each reconnect attempt uses a fresh socket, so a changed local
//     address cannot strand it (W33);
//   - the pause between failed attempts grows by the backoff policy (W1);
//   - once a gateway answers again on the same address, it recovers;
//   - a tunnel closed before its driver started never opens a socket.
#include <memory>
#include <optional>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "service/client_tunnel.h"
#include "service/gateway.h"
#include "service/identity_store.h"
#include "service/worker.h"
#include "tests/integration/gateway_recorder.h"
#include "tests/testing/keys.h"
#include "tests/testing/loop_turns.h"
#include "tunnel/io/clock.h"
#include "tunnel/io/memory_network.h"

namespace snaptun {
namespace {

using service::ClientEvent;
using service::ClientState;
using service::ClientTunnel;

const core::Endpoint kLoopback = core::Endpoint::Ipv4({127, 0, 0, 1}, 0);

struct Seen {
  absl::Time at;
  uint16_t source_port;
  uint8_t type;
};

class ClientReconnectTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (tunnel_ != nullptr) tunnel_->Close();
    if (gateway_ != nullptr) gateway_->Stop();
    pool_.Stop();
  }

  std::unique_ptr<service::Gateway> StartGateway(const core::Endpoint& at) {
    service::GatewayConfig config;
    config.listen = at;
    config.network = &network_;
    absl::StatusOr<std::unique_ptr<service::Gateway>> gateway =
        service::Gateway::Start(pool_, gateway_identity_, identities_, config,
                                &recorder_);
    EXPECT_TRUE(gateway.ok()) << gateway.status();
    return gateway.ok() ? std::move(*gateway) : nullptr;
  }

  // Moves the fake clock and lets the worker run what fell due.
  void Advance(absl::Duration by) {
    clock_.Advance(by);
    testing::FinishLoopTurns(pool_.at(0).loop());
  }

  // What reached the stand-in for the vanished gateway since the last call.
  void Collect(io::DatagramChannel& sink, std::vector<Seen>& seen) {
    io::BatchReceiver receiver(8);
    for (;;) {
      absl::StatusOr<io::ReceiveStats> received = sink.Receive(
          receiver,
          [&](absl::Span<uint8_t> datagram, const core::Endpoint& from) {
            seen.push_back({clock_.Now(), from.port(), datagram[0]});
          });
      EXPECT_TRUE(received.ok());
      if (!received.ok() || received->datagrams == 0) return;
    }
  }

  // A channel bound at `at` that answers nothing.
  std::unique_ptr<io::DatagramChannel> Sink(const core::Endpoint& at) {
    absl::StatusOr<std::unique_ptr<io::DatagramChannel>> sink =
        network_.Bind(at, io::UdpSocketOptions{});
    EXPECT_TRUE(sink.ok()) << sink.status();
    return sink.ok() ? std::move(*sink) : nullptr;
  }

  // A client tunnel's config to `at`, over the memory network.
  service::ClientTunnelConfig ConfigTo(const core::Endpoint& at) {
    service::ClientTunnelConfig config;
    config.peer_public_key = gateway_identity_.public_key();
    config.data_plane = at;
    auto role = std::make_shared<service::ClientRoleConfig>();
    role->network = &network_;
    config.role = role;
    return config;
  }

  // Declared first: the tunnels' configs name it, and a tunnel opens a
  // channel on it at every reconnect until the workers stop.
  io::MemoryNetwork network_;
  io::FakeClock clock_;
  service::WorkerPool pool_{clock_, 1};
  core::LocalIdentity gateway_identity_{testing::FilledKey(2)};
  core::LocalIdentity client_identity_{testing::FilledKey(1)};
  service::IdentityStore identities_;
  testing::GatewayRecorder recorder_;
  std::unique_ptr<service::Gateway> gateway_;
  std::shared_ptr<ClientTunnel> tunnel_;
  absl::Mutex mu_;
  std::optional<absl::Time> reconnecting_at_ ABSL_GUARDED_BY(mu_);
};

TEST_F(ClientReconnectTest, FreshSocketPerAttemptGrowingBackoffThenRecovery) {
  identities_.Grant(client_identity_.public_key(), clock_.Now(),
                    clock_.Now() + absl::Hours(10), {});
  gateway_ = StartGateway(kLoopback);
  ASSERT_NE(gateway_, nullptr);
  const core::Endpoint gateway_address = gateway_->local_address();

  service::ClientTunnelConfig config;
  config.peer_public_key = gateway_identity_.public_key();
  config.data_plane = gateway_address;
  config.persistent_keepalive = absl::Seconds(10);
  config.connect_timeout = absl::Seconds(3);
  auto role = std::make_shared<service::ClientRoleConfig>();
  role->network = &network_;
  role->reconnect_backoff.initial = absl::Seconds(2);
  role->reconnect_backoff.max = absl::Seconds(60);
  role->reconnect_backoff.multiplier = 2;
  role->reconnect_backoff.jitter = 0;
  config.role = role;
  absl::StatusOr<std::shared_ptr<ClientTunnel>> tunnel = ClientTunnel::Connect(
      pool_.at(0), client_identity_, config, [this](const ClientEvent& e) {
        if (e.type == service::TunnelEvent::kReconnecting) {
          absl::MutexLock lock(&mu_);
          if (!reconnecting_at_.has_value()) reconnecting_at_ = clock_.Now();
        }
      });
  ASSERT_TRUE(tunnel.ok()) << tunnel.status();
  tunnel_ = *tunnel;
  const uint16_t first_port = tunnel_->local_address()->port();
  const absl::Time lost_at = clock_.Now();

  // The gateway vanishes; a channel on its address records what the
  // client sends there.
  gateway_->Stop();
  gateway_.reset();
  std::unique_ptr<io::DatagramChannel> sink = Sink(gateway_address);
  ASSERT_NE(sink, nullptr);
  std::vector<Seen> seen;
  while (clock_.Now() - lost_at < absl::Minutes(4)) {
    Advance(absl::Milliseconds(250));
    Collect(*sink, seen);
  }
  std::optional<absl::Time> reconnecting;
  {
    absl::MutexLock lock(&mu_);
    reconnecting = reconnecting_at_;
  }
  ASSERT_TRUE(reconnecting.has_value());
  // W27: the keepalive probe goes unanswered, the no-reply rule starts a
  // handshake within 25.4 s, and 90 s of unanswered initiations later the
  // tunnel reconnects.
  ASSERT_FALSE(seen.empty());
  absl::Time first_initiation = absl::InfiniteFuture();
  for (const Seen& s : seen) {
    if (s.type == 1) {
      first_initiation = s.at;
      break;
    }
  }
  EXPECT_LE(first_initiation - lost_at, absl::Milliseconds(25600));
  EXPECT_LE(*reconnecting - lost_at, absl::Milliseconds(25600 + 90000 + 500));

  // The reconnect attempts: one initiation each (connect_timeout 3 s is
  // below the 5 s retransmission), each from a socket of its own.
  std::vector<Seen> attempts;
  for (const Seen& s : seen) {
    if (s.type == 1 && s.at >= *reconnecting) attempts.push_back(s);
  }
  ASSERT_GE(attempts.size(), 5u);
  std::vector<uint16_t> ports = {first_port};
  for (const Seen& a : attempts) {
    for (uint16_t p : ports) EXPECT_NE(a.source_port, p) << "socket reused";
    ports.push_back(a.source_port);
  }
  // W1: attempt n+1 starts connect_timeout + 2 s × 2^n after attempt n.
  for (size_t n = 0; n + 1 < attempts.size() && n < 4; ++n) {
    const absl::Duration gap = attempts[n + 1].at - attempts[n].at;
    const absl::Duration expected =
        config.connect_timeout + absl::Seconds(2) * (1 << n);
    EXPECT_GE(gap, expected) << "attempt " << n;
    EXPECT_LE(gap, expected + absl::Milliseconds(500)) << "attempt " << n;
  }

  // A gateway answers on the same address again: the next attempt
  // succeeds, from yet another socket.
  sink.reset();
  gateway_ = StartGateway(gateway_address);
  ASSERT_NE(gateway_, nullptr);
  for (int i = 0; i < 4 * 120 && tunnel_->state() != ClientState::kEstablished;
       ++i) {
    Advance(absl::Milliseconds(250));
  }
  EXPECT_EQ(tunnel_->state(), ClientState::kEstablished);
  ASSERT_TRUE(tunnel_->local_address().has_value());
  EXPECT_NE(tunnel_->local_address()->port(), first_port);
}

// Connect's wait is bounded in real time as well: on a clock that never
// moves, against an address that never answers, it fails with
// DEADLINE_EXCEEDED instead of waiting for a timer that cannot fire.
TEST_F(ClientReconnectTest, ConnectGivesUpInRealTimeWhenTheClockStandsStill) {
  std::unique_ptr<io::DatagramChannel> sink = Sink(kLoopback);
  ASSERT_NE(sink, nullptr);
  service::ClientTunnelConfig config = ConfigTo(*sink->LocalEndpoint());
  config.connect_timeout = absl::Milliseconds(100);
  const absl::Time fake_start = clock_.Now();
  absl::StatusOr<std::shared_ptr<ClientTunnel>> tunnel =
      ClientTunnel::Connect(pool_.at(0), client_identity_, config);
  EXPECT_EQ(tunnel.status().code(), absl::StatusCode::kDeadlineExceeded)
      << tunnel.status();
  EXPECT_EQ(clock_.Now(), fake_start);  // The worker's clock never moved.
  // It was trying: the initiation reached the address.
  std::vector<Seen> seen;
  Collect(*sink, seen);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front().type, 1);  // A handshake initiation.
}

// A tunnel closed before its driver started on the worker closes without
// opening a socket: nothing reaches the network, and the open is CANCELLED.
TEST_F(ClientReconnectTest, CloseBeforeTheDriverStartsSendsNothing) {
  std::unique_ptr<io::DatagramChannel> sink = Sink(kLoopback);
  ASSERT_NE(sink, nullptr);
  service::ClientTunnelConfig config = ConfigTo(*sink->LocalEndpoint());
  // The worker is busy until the tunnel has been opened and closed.
  absl::Notification release;
  pool_.at(0).Run([&release] { release.WaitForNotification(); });
  absl::Notification connected;
  absl::Status outcome;
  std::shared_ptr<ClientTunnel> tunnel =
      ClientTunnel::Open(pool_.at(0), client_identity_, config, nullptr,
                         [&](absl::StatusOr<core::Endpoint> result) {
                           outcome = result.status();
                           connected.Notify();
                         });
  tunnel->Close("changed my mind");
  release.Notify();
  ASSERT_TRUE(connected.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(outcome.code(), absl::StatusCode::kCancelled) << outcome;
  EXPECT_EQ(tunnel->state(), ClientState::kClosed);
  EXPECT_TRUE(tunnel->port()->closed());
  testing::FinishLoopTurns(pool_.at(0).loop());
  EXPECT_EQ(network_.counts().queued, 0u);
  EXPECT_EQ(network_.counts().unreachable, 0u);
}

// A tunnel closed by the callback of its reconnect's kEstablished event
// says nothing after kClosed, though the reconnect came from a new socket,
// so the address the gateway saw changed.
TEST_F(ClientReconnectTest, CloseInTheReconnectCallbackEndsTheEvents) {
  identities_.Grant(client_identity_.public_key(), clock_.Now(),
                    clock_.Now() + absl::Hours(10), {});
  gateway_ = StartGateway(kLoopback);
  ASSERT_NE(gateway_, nullptr);
  const core::Endpoint gateway_address = gateway_->local_address();
  service::ClientTunnelConfig config = ConfigTo(gateway_address);
  config.persistent_keepalive = absl::Seconds(10);
  config.connect_timeout = absl::Seconds(3);
  std::vector<service::TunnelEvent> events;
  bool reconnecting = false;
  absl::StatusOr<std::shared_ptr<ClientTunnel>> tunnel = ClientTunnel::Connect(
      pool_.at(0), client_identity_, config, [&](const ClientEvent& e) {
        std::shared_ptr<ClientTunnel> close;
        {
          absl::MutexLock lock(&mu_);
          events.push_back(e.type);
          reconnecting |= e.type == service::TunnelEvent::kReconnecting;
          if (reconnecting && e.type == service::TunnelEvent::kEstablished) {
            close = tunnel_;
          }
        }
        // On the worker, inside the event: the driver shuts down at once.
        if (close != nullptr) close->Close("done");
      });
  ASSERT_TRUE(tunnel.ok()) << tunnel.status();
  {
    absl::MutexLock lock(&mu_);
    tunnel_ = *tunnel;
  }
  const core::Endpoint first = *tunnel_->local_address();
  gateway_->Stop();
  gateway_.reset();
  for (int i = 0; i < 4 * 180 && tunnel_->state() != ClientState::kReconnecting;
       ++i) {
    Advance(absl::Milliseconds(250));
  }
  ASSERT_EQ(tunnel_->state(), ClientState::kReconnecting);
  gateway_ = StartGateway(gateway_address);
  ASSERT_NE(gateway_, nullptr);
  for (int i = 0; i < 4 * 120 && tunnel_->state() != ClientState::kClosed;
       ++i) {
    Advance(absl::Milliseconds(250));
  }
  ASSERT_EQ(tunnel_->state(), ClientState::kClosed);
  EXPECT_NE(*tunnel_->local_address(), first);  // A new address was seen.
  absl::MutexLock lock(&mu_);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), service::TunnelEvent::kClosed)
      << service::TunnelEventName(events.back());
}

}  // namespace
}  // namespace snaptun
