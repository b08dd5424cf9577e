// End-to-end data-plane throughput on loopback, each figure beside its
// baselines measured in the same run (docs/PERFORMANCE.md):
//
//   raw UDP:  one thread sends datagrams with the project's BatchSender
//             (sendmmsg + GSO), another receives them with the
//             BatchReceiver (recvmmsg + GRO). No crypto, no tunnel.
//   tunnel:   one thread pushes payloads into client tunnels' ports; the
//             client workers seal and send them; the gateway workers
//             receive, authorize, open and deliver them to the tunnels'
//             ports; a consumer thread drains them.
//   AEAD bound: seal and open of one payload timed on this thread now;
//             two cores doing nothing else top out at
//             2 / (seal + open) packets per second.
//
// Three parts: 1400-byte payloads on one tunnel in both modes (the figure
// issue 4 set), SNAP mode across payload sizes (64, 256, 512, 1420), and
// 1, 64 and 1024 tunnels with two workers on each side. Packets per second
// are counted where they arrive, over the same interval.
//
//   dataplane_bench [SECONDS] [CSV|-] [one|snap]
//     CSV: rows for bench/plot.sh; "one": only the first part; "snap": the
//     SNAP tunnel alone, then its AEAD bound (for a profiler).
#include <poll.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "service/client_tunnel.h"
#include "service/gateway.h"
#include "service/identity_store.h"
#include "service/worker.h"
#include "tests/integration/gateway_recorder.h"
#include "tests/testing/keys.h"
#include "tests/testing/load_clients.h"
#include "tunnel/core/keypair.h"
#include "tunnel/io/batch_receiver.h"
#include "tunnel/io/batch_sender.h"
#include "tunnel/io/udp_socket.h"

namespace snaptun {
namespace {

const core::Endpoint kLoopback = core::Endpoint::Ipv4({127, 0, 0, 1}, 0);

struct Result {
  double packets_per_second = 0;
  double goodput_gbps = 0;
  // Share of one core each gateway worker was busy (tunnel runs only).
  std::vector<double> gateway_busy;
};

Result Rate(uint64_t packets, size_t payload, absl::Duration elapsed) {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  return {packets / seconds, packets * payload * 8 / seconds / 1e9, {}};
}

// After a warm-up, the rate at which `received` grows over `duration`.
Result Measure(const std::atomic<uint64_t>& received, size_t payload,
               absl::Duration duration) {
  absl::SleepFor(absl::Milliseconds(300));
  const uint64_t start_count = received.load();
  const absl::Time start = absl::Now();
  absl::SleepFor(duration);
  const uint64_t count = received.load() - start_count;
  return Rate(count, payload, absl::Now() - start);
}

Result RawUdp(absl::Duration duration, size_t payload_size) {
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
    std::vector<uint8_t> payload(payload_size, 0x5a);
    while (!stop.load(std::memory_order_relaxed)) {
      for (int i = 0; i < 64; ++i) batch.Queue(to, payload);
      batch.Flush(sender.fd(), true);
    }
  });
  const Result result = Measure(received, payload_size, duration);
  stop = true;
  writer.join();
  reader.join();
  return result;
}

// Seal and open of one payload on this thread, nanoseconds each.
struct AeadCost {
  double seal_ns = 0;
  double open_ns = 0;
  // Packets per second two cores could seal and open, doing nothing else.
  double TwoCoreBound() const { return 2 * 1e9 / (seal_ns + open_ns); }
};

// The cheapest of five rounds of 20 000 seals and opens: a round the VM
// interrupts only makes that round slower, so the minimum is the cost.
AeadCost MeasureAead(size_t payload_size) {
  core::TransportKeys keys;
  keys.send = crypto::SymmetricKey(crypto::Bytes<32>{1, 2, 3});
  keys.receive = keys.send;
  core::Keypair sender(keys, 1, 2, true, absl::Now());
  constexpr size_t kPackets = 20000;
  const std::vector<uint8_t> payload(payload_size, 0x5a);
  std::vector<std::vector<uint8_t>> sealed(
      kPackets, std::vector<uint8_t>(payload_size + 32));
  AeadCost best{1e12, 1e12};
  for (int round = 0; round < 5; ++round) {
    core::Keypair receiver(keys, 2, 1, false, absl::Now());
    absl::Time start = absl::Now();
    for (auto& message : sealed) sender.Seal(payload, message.data());
    best.seal_ns =
        std::min(best.seal_ns,
                 absl::ToDoubleNanoseconds(absl::Now() - start) / kPackets);
    start = absl::Now();
    absl::Span<uint8_t> opened;
    for (auto& message : sealed) {
      if (receiver.Open(absl::MakeSpan(message), opened) !=
          core::DropReason::kNone) {
        std::fprintf(stderr, "AEAD bound: an open failed\n");
        std::abort();
      }
    }
    best.open_ns =
        std::min(best.open_ns,
                 absl::ToDoubleNanoseconds(absl::Now() - start) / kPackets);
  }
  return best;
}

// CPU seconds each worker of `pool` has used so far, read on the worker.
std::vector<double> WorkerCpuSeconds(service::WorkerPool& pool) {
  std::vector<double> seconds(pool.size());
  for (size_t i = 0; i < pool.size(); ++i) {
    pool.at(i).RunAndWait([&seconds, i] {
      timespec ts{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      seconds[i] = ts.tv_sec + ts.tv_nsec / 1e9;
    });
  }
  return seconds;
}

struct TunnelRun {
  absl::Duration duration;
  core::Mode mode = core::Mode::kSnap;
  size_t payload = 1400;
  size_t tunnels = 1;
  // Workers on each side: the client tunnels' and the gateway's.
  size_t workers = 1;
};

// A payload the tunnel may carry: WireGuard mode wants an IP packet.
std::vector<uint8_t> PayloadFor(const TunnelRun& run) {
  std::vector<uint8_t> payload(run.payload, 0x5a);
  if (run.payload >= 20) {
    payload[0] = 0x45;
    payload[2] = run.payload >> 8;
    payload[3] = run.payload & 0xff;
  }
  return payload;
}

// N client tunnels to one gateway in this process, connected and with
// their gateway-side ports found.
class TunnelRig {
 public:
  explicit TunnelRig(const TunnelRun& run)
      : client_pool_(clock_, run.workers), gateway_pool_(clock_, run.workers) {
    // Each port holds at most ~8192 packets across all tunnels.
    const size_t per_port = std::max<size_t>(64, 8192 / run.tunnels);
    service::GatewayConfig gateway_config;
    gateway_config.listen = kLoopback;
    gateway_config.table.mode = run.mode;
    gateway_config.port.receive_packets = per_port;
    gateway_config.port.receive_bytes = per_port * (run.payload + 64);
    gateway_config.table.rate_limiter.global_soft = 1 << 30;
    gateway_config.table.rate_limiter.per_source_soft = 1 << 20;
    gateway_config.table.rate_limiter.per_source_hard = 1 << 20;
    gateway_ =
        *service::Gateway::Start(gateway_pool_, gateway_identity_, identities_,
                                 gateway_config, &recorder_);
    const std::vector<uint8_t> payload = PayloadFor(run);
    auto role = std::make_shared<service::ClientRoleConfig>();
    role->port.send_packets = per_port;
    role->port.send_bytes = per_port * (run.payload + 64);
    for (size_t i = 0; i < run.tunnels; ++i) {
      clients_.push_back(
          std::make_unique<core::LocalIdentity>(testing::LoadClientKey(i)));
      identities_.Grant(clients_.back()->public_key(), absl::Now(),
                        absl::InfiniteFuture(), {});
      service::ClientTunnelConfig config;
      config.peer_public_key = gateway_identity_.public_key();
      config.data_plane = gateway_->local_address();
      config.mode = run.mode;
      config.role = role;
      tunnels_.push_back(*service::ClientTunnel::Connect(
          client_pool_.at(i % run.workers), *clients_.back(), config));
      tunnels_.back()->port()->Send(payload);
    }
    for (const auto& tunnel : tunnels_) {
      ports_.push_back(
          recorder_.WaitForPort(*tunnel->local_address(), absl::Seconds(30)));
      if (ports_.back() == nullptr) {
        std::fprintf(stderr, "a tunnel did not reach the gateway in 30 s\n");
        std::abort();
      }
    }
  }
  ~TunnelRig() {
    for (const auto& tunnel : tunnels_) tunnel->Close();
    gateway_->Stop();
  }

  service::WorkerPool& gateway_pool() { return gateway_pool_; }
  const std::vector<std::shared_ptr<service::ClientTunnel>>& tunnels() {
    return tunnels_;
  }
  const std::vector<std::shared_ptr<service::TunnelPort>>& ports() {
    return ports_;
  }

 private:
  io::SystemClock clock_;
  service::WorkerPool client_pool_;
  service::WorkerPool gateway_pool_;
  const core::LocalIdentity gateway_identity_{testing::FilledKey(2)};
  service::IdentityStore identities_;
  testing::GatewayRecorder recorder_;
  std::unique_ptr<service::Gateway> gateway_;
  std::vector<std::unique_ptr<core::LocalIdentity>> clients_;
  std::vector<std::shared_ptr<service::ClientTunnel>> tunnels_;
  std::vector<std::shared_ptr<service::TunnelPort>> ports_;
};

// Drains every gateway-side port in turn until `stop`.
void ReadAll(TunnelRig& rig, const std::atomic<bool>& stop,
             std::atomic<uint64_t>& received) {
  std::vector<service::Packet> got;
  const absl::Duration wait =
      rig.ports().size() == 1 ? absl::Milliseconds(100) : absl::ZeroDuration();
  while (!stop.load(std::memory_order_relaxed)) {
    size_t round = 0;
    for (const auto& port : rig.ports()) {
      got.clear();
      round += port->Receive(got, 1024, wait);
    }
    received.fetch_add(round, std::memory_order_relaxed);
    if (round == 0 && wait == absl::ZeroDuration()) {
      absl::SleepFor(absl::Microseconds(50));
    }
  }
}

// Pushes batches into every client tunnel's port in turn until `stop`.
void WriteAll(TunnelRig& rig, const std::vector<uint8_t>& payload,
              const std::atomic<bool>& stop) {
  const size_t per_tunnel = std::max<size_t>(8, 256 / rig.tunnels().size());
  std::vector<service::Packet> batch;
  while (!stop.load(std::memory_order_relaxed)) {
    size_t accepted = 0;
    for (const auto& tunnel : rig.tunnels()) {
      batch.clear();
      while (batch.size() < per_tunnel) batch.push_back(payload);
      accepted += tunnel->port()->SendBatch(batch);
    }
    if (accepted == 0) absl::SleepFor(absl::Microseconds(50));
  }
}

Result Tunnel(const TunnelRun& run) {
  TunnelRig rig(run);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> received{0};
  std::thread reader([&] { ReadAll(rig, stop, received); });
  const std::vector<uint8_t> payload = PayloadFor(run);
  std::thread writer([&] { WriteAll(rig, payload, stop); });
  absl::SleepFor(absl::Milliseconds(300));
  const std::vector<double> cpu_before = WorkerCpuSeconds(rig.gateway_pool());
  const absl::Time start = absl::Now();
  Result result = Measure(received, run.payload, run.duration);
  const double wall = absl::ToDoubleSeconds(absl::Now() - start);
  const std::vector<double> cpu_after = WorkerCpuSeconds(rig.gateway_pool());
  for (size_t i = 0; i < cpu_after.size(); ++i) {
    result.gateway_busy.push_back((cpu_after[i] - cpu_before[i]) / wall);
  }
  stop = true;
  writer.join();
  reader.join();
  uint64_t dropped = 0;
  for (const auto& port : rig.ports()) {
    dropped += port->counters().dropped(core::DropReason::kReceiveQueueFull);
  }
  std::printf(
      "  (%zu tunnel(s), %zu-byte payloads, %s: receive_queue_full "
      "drops %llu)\n",
      run.tunnels, run.payload,
      run.mode == core::Mode::kSnap ? "snap" : "wireguard",
      static_cast<unsigned long long>(dropped));
  return result;
}

std::string Busy(const Result& r) {
  std::string out;
  for (double busy : r.gateway_busy) {
    out += (out.empty() ? "" : " / ") +
           std::to_string(static_cast<int>(100 * busy)) + "%";
  }
  return out;
}

// One CSV row per figure: series,x,packets_per_second,gbit_per_second.
void Row(std::FILE* csv, const char* series, size_t x, const Result& r) {
  if (csv == nullptr) return;
  std::fprintf(csv, "%s,%zu,%.0f,%.3f\n", series, x, r.packets_per_second,
               r.goodput_gbps);
}

void OneTunnelBothModes(absl::Duration duration, std::FILE* csv) {
  const Result raw = RawUdp(duration, 1400);
  const Result snap = Tunnel({duration, core::Mode::kSnap, 1400, 1, 1});
  const Result wireguard =
      Tunnel({duration, core::Mode::kWireGuard, 1400, 1, 1});
  const AeadCost aead = MeasureAead(1400);
  std::printf("\n%-34s %12s %10s %8s %9s\n", "path (1400-byte payloads)",
              "packets/s", "Gbit/s", "vs raw", "vs AEAD");
  std::printf("%-34s %12.0f %10.2f %7.0f%%\n", "raw UDP, same batching",
              raw.packets_per_second, raw.goodput_gbps, 100.0);
  for (const auto& [name, r] :
       {std::pair{"tunnel, SNAP mode", snap},
        std::pair{"tunnel, WireGuard mode", wireguard}}) {
    std::printf("%-34s %12.0f %10.2f %7.0f%% %8.0f%%\n", name,
                r.packets_per_second, r.goodput_gbps,
                100 * r.packets_per_second / raw.packets_per_second,
                100 * r.packets_per_second / aead.TwoCoreBound());
  }
  std::printf("%-34s %12.0f   (seal %.0f ns + open %.0f ns, 2 cores)\n",
              "AEAD bound", aead.TwoCoreBound(), aead.seal_ns, aead.open_ns);
}

// The SNAP tunnel alone, for a profiler (bench/profile_dataplane.sh): no
// raw-UDP or AEAD phase in the recorded window.
void SnapTunnelOnly(absl::Duration duration) {
  const Result snap = Tunnel({duration, core::Mode::kSnap, 1400, 1, 1});
  const AeadCost aead = MeasureAead(1400);
  std::printf(
      "tunnel, SNAP mode, 1400 B: %.0f packets/s, %.0f%% of the AEAD "
      "bound (%.0f)\n",
      snap.packets_per_second,
      100 * snap.packets_per_second / aead.TwoCoreBound(), aead.TwoCoreBound());
}

void PayloadSizes(absl::Duration duration, std::FILE* csv) {
  std::printf("\n%-8s %12s %12s %12s %8s %9s\n", "payload", "raw UDP", "tunnel",
              "AEAD bound", "vs raw", "vs AEAD");
  for (size_t size : {64, 256, 512, 1420}) {
    const Result raw = RawUdp(duration, size);
    const Result snap = Tunnel({duration, core::Mode::kSnap, size, 1, 1});
    const AeadCost aead = MeasureAead(size);
    std::printf("%-8zu %12.0f %12.0f %12.0f %7.0f%% %8.0f%%\n", size,
                raw.packets_per_second, snap.packets_per_second,
                aead.TwoCoreBound(),
                100 * snap.packets_per_second / raw.packets_per_second,
                100 * snap.packets_per_second / aead.TwoCoreBound());
    Row(csv, "raw_udp", size, raw);
    Row(csv, "dataplane", size, snap);
    Row(csv, "aead_bound", size,
        Rate(static_cast<uint64_t>(aead.TwoCoreBound()), size,
             absl::Seconds(1)));
  }
}

void TunnelCounts(absl::Duration duration, std::FILE* csv) {
  std::printf("\n%-8s %12s %10s %8s  %s\n", "tunnels", "packets/s", "Gbit/s",
              "vs 1", "gateway workers busy (2+2 workers, 1400 B)");
  double one = 0;
  const AeadCost aead = MeasureAead(1400);
  for (size_t tunnels : {1, 64, 1024}) {
    const Result r = Tunnel({duration, core::Mode::kSnap, 1400, tunnels, 2});
    if (tunnels == 1) one = r.packets_per_second;
    std::printf("%-8zu %12.0f %10.2f %7.0f%%  %s\n", tunnels,
                r.packets_per_second, r.goodput_gbps,
                100 * r.packets_per_second / one, Busy(r).c_str());
    Row(csv, "dataplane_tunnels", tunnels, r);
    Row(csv, "aead_bound_tunnels", tunnels,
        Rate(static_cast<uint64_t>(aead.TwoCoreBound()), 1400,
             absl::Seconds(1)));
  }
}

int Main(int argc, char** argv) {
  // Deadlock detection (on in Debian's absl) costs on every lock.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const absl::Duration duration =
      absl::Seconds(argc > 1 ? std::atof(argv[1]) : 3.0);
  const std::string csv_path = argc > 2 ? argv[2] : "-";
  std::FILE* csv =
      csv_path == "-" ? nullptr : std::fopen(csv_path.c_str(), "w");
  if (argc > 3 && std::string(argv[3]) == "snap") {
    SnapTunnelOnly(duration);
    return 0;
  }
  if (csv != nullptr) std::fprintf(csv, "series,x,packets_per_second,gbps\n");
  OneTunnelBothModes(duration, csv);
  if (argc > 3 && std::string(argv[3]) == "one") return 0;
  PayloadSizes(duration, csv);
  TunnelCounts(duration, csv);
  if (csv != nullptr) std::fclose(csv);
  return 0;
}

}  // namespace
}  // namespace snaptun

int main(int argc, char** argv) { return snaptun::Main(argc, argv); }
