// The data plane's Prometheus metrics (PRODUCT.md §5), resolved once into
// handles so the packet path only bumps counters in its worker's shard. Every
// label value is fixed and bounded: role (client, gateway), direction, drop
// reason and handshake failure names from tunnel/core/verdict.h, tunnel
// state. All series exist from the start, at zero, so dashboards and
// alerts see them before the first event.
#ifndef SNAPTUN_SERVICE_DATAPLANE_METRICS_H_
#define SNAPTUN_SERVICE_DATAPLANE_METRICS_H_

#include <array>
#include <cstddef>

#include "metrics/registry.h"
#include "tunnel/core/verdict.h"

namespace snaptun::service {

enum class Role : uint8_t { kClient, kGateway };
enum class TunnelGaugeState : uint8_t {
  kConnecting,
  kEstablished,
  kReconnecting
};

struct RoleMetrics {
  metrics::Counter* handshakes_initiated = nullptr;
  metrics::Counter* handshakes_completed = nullptr;
  std::array<metrics::Counter*, core::kHandshakeFailureCount> failures{};
  metrics::Histogram* handshake_duration = nullptr;
  metrics::Counter* packets_tx = nullptr;
  metrics::Counter* packets_rx = nullptr;
  metrics::Counter* bytes_tx = nullptr;
  metrics::Counter* bytes_rx = nullptr;
  std::array<metrics::Counter*, core::kDropReasonCount> drops{};
  std::array<metrics::Gauge*, 3> tunnels{};
  // Kernel buffers of the role's data-plane sockets: receive requested,
  // receive granted, send requested, send granted.
  std::array<metrics::Gauge*, 4> socket_buffers{};
  // Reads of a data-plane socket that failed (not EAGAIN, not ICMP).
  metrics::Counter* receive_errors = nullptr;

  void SocketBuffers(int receive_requested, int receive_granted,
                     int send_requested, int send_granted) {
    socket_buffers[0]->Set(receive_requested);
    socket_buffers[1]->Set(receive_granted);
    socket_buffers[2]->Set(send_requested);
    socket_buffers[3]->Set(send_granted);
  }

  void Drop(core::DropReason reason, uint64_t count, size_t shard) {
    if (count > 0 && reason != core::DropReason::kNone) {
      drops[static_cast<size_t>(reason)]->Increment(count, shard);
    }
  }
  void Fail(core::HandshakeFailure failure, size_t shard) {
    if (failure != core::HandshakeFailure::kNone) {
      failures[static_cast<size_t>(failure)]->Increment(1, shard);
    }
  }
  metrics::Gauge& tunnels_in(TunnelGaugeState state) {
    return *tunnels[static_cast<size_t>(state)];
  }
};

class DataPlaneMetrics {
 public:
  explicit DataPlaneMetrics(metrics::Registry& registry);

  RoleMetrics& role(Role role) {
    return role == Role::kClient ? client_ : gateway_;
  }
  metrics::Counter& cookies_sent() { return *cookies_sent_; }
  metrics::Counter& cookies_received() { return *cookies_received_; }
  metrics::Counter& reconnects() { return *reconnects_; }
  metrics::Family<metrics::Counter>& registrations() { return *registrations_; }

 private:
  RoleMetrics client_;
  RoleMetrics gateway_;
  metrics::Counter* cookies_sent_;
  metrics::Counter* cookies_received_;
  metrics::Counter* reconnects_;
  metrics::Family<metrics::Counter>* registrations_;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_DATAPLANE_METRICS_H_
