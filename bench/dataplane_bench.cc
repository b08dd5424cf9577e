// End-to-end data-plane throughput on loopback, each figure beside its
// baseline measured in the same run (docs/PERFORMANCE.md):
//
//   raw UDP:  one thread sends 1400-byte datagrams with the project's
//             BatchSender (sendmmsg + GSO), another receives them with the
//             BatchReceiver (recvmmsg + GRO). No crypto, no tunnel.
//   tunnel:   one thread pushes 1400-byte payloads into a client tunnel's
//             port; the client worker seals and sends them; the gateway
//             worker receives, authorizes, opens and delivers them to the
//             tunnel's port; a consumer thread drains it.
//
// Packets per second are counted where they arrive, over the same interval.
//   dataplane_bench [SECONDS]
#include <poll.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include "service/client_tunnel.h"
#include "service/gateway.h"
#include "service/identity_store.h"
#include "service/worker.h"
#include "tests/integration/gateway_recorder.h"
#include "tests/testing/keys.h"
#include "tunnel/io/batch_receiver.h"
#include "tunnel/io/batch_sender.h"
#include "tunnel/io/udp_socket.h"

namespace snaptun {
namespace {

constexpr size_t kPayload = 1400;
const core::Endpoint kLoopback = core::Endpoint::Ipv4({127, 0, 0, 1}, 0);

struct Result {
  double packets_per_second = 0;
  double goodput_gbps = 0;
};

Result Rate(uint64_t packets, absl::Duration elapsed) {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  return {packets / seconds, packets * kPayload * 8 / seconds / 1e9};
}

// After a warm-up, the rate at which `received` grows over `duration`.
Result Measure(const std::atomic<uint64_t>& received, absl::Duration duration) {
  absl::SleepFor(absl::Milliseconds(300));
  const uint64_t start_count = received.load();
  const absl::Time start = absl::Now();
  absl::SleepFor(duration);
  const uint64_t count = received.load() - start_count;
  return Rate(count, absl::Now() - start);
}

Result RawUdp(absl::Duration duration) {
  io::UdpSocket receiver = *io::UdpSocket::Bind(kLoopback, {});
  io::UdpSocket sender = *io::UdpSocket::Connect(*receiver.LocalEndpoint(), {});
  const core::Endpoint to = *receiver.LocalEndpoint();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> received{0};
  std::thread reader([&] {
    io::BatchReceiver batch;
    while (!stop.load(std::memory_order_relaxed)) {
      pollfd p{receiver.fd(), POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      absl::StatusOr<io::ReceiveStats> stats = batch.Receive(
          receiver.fd(), [](absl::Span<uint8_t>, const core::Endpoint&) {});
      if (stats.ok())
        received.fetch_add(stats->datagrams, std::memory_order_relaxed);
    }
  });
  std::thread writer([&] {
    io::BatchSender batch(64);
    std::vector<uint8_t> payload(kPayload, 0x5a);
    while (!stop.load(std::memory_order_relaxed)) {
      for (int i = 0; i < 64; ++i) batch.Queue(to, payload);
      batch.Flush(sender.fd(), true);
    }
  });
  const Result result = Measure(received, duration);
  stop = true;
  writer.join();
  reader.join();
  return result;
}

Result Tunnel(absl::Duration duration, core::Mode mode) {
  io::SystemClock clock;
  // Separate workers for the two ends, as two hosts would have.
  service::WorkerPool client_pool(clock, 1);
  service::WorkerPool gateway_pool(clock, 1);
  const core::LocalIdentity gateway_identity(testing::FilledKey(2));
  const core::LocalIdentity client_identity(testing::FilledKey(1));
  service::IdentityStore identities;
  identities.Grant(client_identity.public_key(), absl::Now(),
                   absl::InfiniteFuture(), {});
  testing::GatewayRecorder recorder;
  service::GatewayConfig gateway_config;
  gateway_config.listen = kLoopback;
  gateway_config.mode = mode;
  gateway_config.port.receive_packets = 8192;
  gateway_config.port.receive_bytes = size_t{64} << 20;
  std::unique_ptr<service::Gateway> gateway = *service::Gateway::Start(
      gateway_pool, gateway_identity, identities, gateway_config, &recorder);
  service::ClientTunnelConfig config;
  config.peer_public_key = gateway_identity.public_key();
  config.data_plane = gateway->local_address();
  config.mode = mode;
  config.port.send_packets = 8192;
  config.port.send_bytes = size_t{64} << 20;
  std::shared_ptr<service::ClientTunnel> tunnel =
      *service::ClientTunnel::Connect(client_pool.at(0), client_identity,
                                      config);
  // WireGuard mode carries IP packets: give the payload an IPv4 header.
  std::vector<uint8_t> payload(kPayload, 0x5a);
  payload[0] = 0x45;
  payload[2] = kPayload >> 8;
  payload[3] = kPayload & 0xff;
  tunnel->port()->Send(payload);
  std::shared_ptr<service::TunnelPort> port =
      recorder.WaitForPort(*tunnel->local_address(), absl::Seconds(5));
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> received{0};
  std::thread reader([&] {
    std::vector<service::Packet> got;
    while (!stop.load(std::memory_order_relaxed)) {
      got.clear();
      received.fetch_add(port->Receive(got, 1024, absl::Milliseconds(100)),
                         std::memory_order_relaxed);
    }
  });
  std::thread writer([&] {
    std::vector<service::Packet> batch;
    while (!stop.load(std::memory_order_relaxed)) {
      while (batch.size() < 256) batch.push_back(payload);
      if (tunnel->port()->SendBatch(batch) == 0) {
        absl::SleepFor(absl::Microseconds(50));
      }
    }
  });
  const Result result = Measure(received, duration);
  stop = true;
  writer.join();
  reader.join();
  const auto& drops = port->counters();
  std::printf("  (tunnel %s: receive_queue_full drops %llu)\n",
              mode == core::Mode::kSnap ? "snap" : "wireguard",
              static_cast<unsigned long long>(
                  drops.dropped(core::DropReason::kReceiveQueueFull)));
  tunnel->Close();
  gateway->Stop();
  return result;
}

int Main(int argc, char** argv) {
  // Deadlock detection (on in Debian's absl) costs on every lock.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const absl::Duration duration =
      absl::Seconds(argc > 1 ? std::atof(argv[1]) : 3.0);
  const Result raw = RawUdp(duration);
  const Result snap = Tunnel(duration, core::Mode::kSnap);
  const Result wireguard = Tunnel(duration, core::Mode::kWireGuard);
  std::printf("\n%-34s %12s %10s %8s\n", "path (1400-byte payloads)",
              "packets/s", "Gbit/s", "vs raw");
  std::printf("%-34s %12.0f %10.2f %7.0f%%\n", "raw UDP, same batching",
              raw.packets_per_second, raw.goodput_gbps, 100.0);
  std::printf("%-34s %12.0f %10.2f %7.0f%%\n", "tunnel, SNAP mode",
              snap.packets_per_second, snap.goodput_gbps,
              100 * snap.packets_per_second / raw.packets_per_second);
  std::printf("%-34s %12.0f %10.2f %7.0f%%\n", "tunnel, WireGuard mode",
              wireguard.packets_per_second, wireguard.goodput_gbps,
              100 * wireguard.packets_per_second / raw.packets_per_second);
  return 0;
}

}  // namespace
}  // namespace snaptun

int main(int argc, char** argv) { return snaptun::Main(argc, argv); }
