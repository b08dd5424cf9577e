// The data plane's Prometheus metrics (PRODUCT.md §5), resolved once into
// handles. What a tunnel's packets do (packets, bytes, drops, completed
// handshakes, reconnects) is counted once, on its port; the role's series
// for them are views of those counts (role_traffic.h), set at each collect.
// What workers count without a tunnel (a drop before any tunnel claims the
// datagram, an initiation, a failure) lives in worker-local cells
// (metrics/worker_metrics.h); gauges and the control plane's counters are
// prometheus-cpp series in the daemon's Registry. Every
// label value is fixed and bounded: role (client, gateway), direction, drop
// reason and handshake failure names from tunnel/core/verdict.h, tunnel
// state, initiation outcome. All series exist from the start, at zero, so
// dashboards and alerts see them before the first event.
#ifndef SNAPTUN_SERVICE_DATAPLANE_METRICS_H_
#define SNAPTUN_SERVICE_DATAPLANE_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <array>
#include <cstddef>
#include <functional>

#include "absl/time/time.h"
#include "metrics/worker_metrics.h"
#include "service/role.h"
#include "service/role_traffic.h"
#include "service/tunnel_lifecycle.h"
#include "tunnel/core/peer.h"
#include "tunnel/core/verdict.h"

namespace snaptun::service {

// The states snaptun_tunnels counts: the lifecycle's, but closed.
using TunnelGaugeState = TunnelState;

// What a gateway did with a handshake initiation it received.
enum class InitiationOutcome : uint8_t {
  kAnswered,  // A handshake response went back.
  kCookie,    // Under load: a cookie reply went back instead.
  kRefused,   // Nothing went back; the reason is a handshake failure.
};
inline constexpr size_t kInitiationOutcomeCount = 3;

// How long a scrape waits for each role's workers to sum their tunnels'
// counts; a worker that takes longer counts with its previous sum.
inline constexpr absl::Duration kScrapeWait = absl::Seconds(1);

struct RoleMetrics {
  // The role's tunnels' counts: packets, bytes, drops, completed handshakes
  // and reconnects with a tunnel. The series below for these are its views,
  // plus what they count in their own cells without a tunnel.
  RoleTraffic traffic;
  metrics::WorkerCounter* handshakes_initiated = nullptr;
  metrics::WorkerCounter* handshakes_completed = nullptr;  // A view.
  std::array<metrics::WorkerCounter*, kInitiationOutcomeCount>
      initiations_received{};
  std::array<metrics::WorkerCounter*, core::kHandshakeFailureCount> failures{};
  metrics::WorkerHistogram* handshake_duration = nullptr;
  // Views; tx cells count what was sent for no tunnel's port.
  metrics::WorkerCounter* packets_tx = nullptr;
  metrics::WorkerCounter* packets_rx = nullptr;
  metrics::WorkerCounter* bytes_tx = nullptr;
  metrics::WorkerCounter* bytes_rx = nullptr;
  // Views; the cells count the drops that had no tunnel.
  std::array<metrics::WorkerCounter*, core::kDropReasonCount> drops{};
  // One per lifecycle state; null for the ones not gauged.
  std::array<prometheus::Gauge*, kTunnelStateCount> tunnels{};
  // Kernel buffers of the role's data-plane sockets: receive requested,
  // receive granted, send requested, send granted.
  std::array<prometheus::Gauge*, 4> socket_buffers{};
  // Reads of a data-plane socket that failed (not EAGAIN, not ICMP).
  metrics::WorkerCounter* receive_errors = nullptr;

  void SocketBuffers(int receive_requested, int receive_granted,
                     int send_requested, int send_granted) {
    socket_buffers[0]->Set(receive_requested);
    socket_buffers[1]->Set(receive_granted);
    socket_buffers[2]->Set(send_requested);
    socket_buffers[3]->Set(send_granted);
  }

  // A drop with no tunnel to count it.
  void Drop(core::DropReason reason, uint64_t count, size_t shard) {
    if (count > 0 && reason != core::DropReason::kNone) {
      drops[static_cast<size_t>(reason)]->Increment(count, shard);
    }
  }
  // Payloads sealed and sent for a tunnel that no longer has a port.
  void Sent(uint64_t packets, uint64_t bytes, size_t shard) {
    packets_tx->Increment(packets, shard);
    bytes_tx->Increment(bytes, shard);
  }
  // The role's counts now: its tunnels' and its cells'. Visits every
  // worker (RoleTraffic::Total's threads).
  CountersSnapshot Counts() const;
  // Sets the views from `traffic`, the role's tunnels' counts.
  void ShowTraffic(const CountersSnapshot& traffic);
  void Fail(core::HandshakeFailure failure, size_t shard) {
    if (failure != core::HandshakeFailure::kNone) {
      failures[static_cast<size_t>(failure)]->Increment(1, shard);
    }
  }
  void Initiation(InitiationOutcome outcome, size_t shard) {
    initiations_received[static_cast<size_t>(outcome)]->Increment(1, shard);
  }
  prometheus::Gauge& tunnels_in(TunnelGaugeState state) {
    return *tunnels[static_cast<size_t>(state)];
  }
};

class DataPlaneMetrics {
 public:
  // Sets the views at each collect of `workers`, which must outlive this.
  DataPlaneMetrics(prometheus::Registry& registry,
                   metrics::WorkerMetrics& workers);
  ~DataPlaneMetrics();
  DataPlaneMetrics(const DataPlaneMetrics&) = delete;
  DataPlaneMetrics& operator=(const DataPlaneMetrics&) = delete;

  RoleMetrics& role(Role role) {
    return role == Role::kClient ? client_ : gateway_;
  }
  metrics::WorkerCounter& cookies_sent() { return *cookies_sent_; }
  metrics::WorkerCounter& cookies_received() { return *cookies_received_; }
  // What a peer event counts in `role`'s series: initiations sent, the
  // duration of completions (their count is the tunnels'), cookie replies
  // received. Failures are
  // the caller's to count: a client counts every failure its peer reports, a
  // gateway only its own timeouts (the rest come with the datagram's result).
  void CountPeerEvent(Role role, const core::PeerEvent& event, size_t shard);
  prometheus::Counter& registrations(bool success) {
    return success ? *registrations_success_ : *registrations_failure_;
  }

 private:
  RoleMetrics client_;
  RoleMetrics gateway_;
  metrics::WorkerCounter* cookies_sent_;
  metrics::WorkerCounter* cookies_received_;
  metrics::WorkerCounter* reconnects_;
  prometheus::Counter* registrations_success_;
  prometheus::Counter* registrations_failure_;
  metrics::WorkerMetrics& workers_;
  int refresh_ = 0;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_DATAPLANE_METRICS_H_
