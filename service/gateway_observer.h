// What the gateway tells the layer above it (the session manager, tests)
// about accepted tunnels, and the gateway-wide counters it keeps. Observer
// calls come from worker threads and must not block.
#ifndef SNAPTUN_SERVICE_GATEWAY_OBSERVER_H_
#define SNAPTUN_SERVICE_GATEWAY_OBSERVER_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>

#include "service/tunnel_port.h"
#include "tunnel/core/endpoint.h"
#include "tunnel/core/peer.h"
#include "tunnel/core/tunnel_table.h"
#include "tunnel/core/verdict.h"
#include "tunnel/crypto/secret.h"

namespace snaptun::service {

struct GatewayTunnelInfo {
  core::Endpoint remote;
  crypto::PublicKey identity{};
  size_t worker = 0;
};

class GatewayObserver {
 public:
  virtual ~GatewayObserver() = default;
  virtual void OnTunnelAccepted(const GatewayTunnelInfo& info,
                                std::shared_ptr<TunnelPort> port) {}
  virtual void OnTunnelEvent(const GatewayTunnelInfo& info,
                             const core::PeerEvent& event) {}
  virtual void OnTunnelRemoved(const GatewayTunnelInfo& info,
                               core::RemovalReason reason) {}
};

struct GatewayStats {
  std::atomic<uint64_t> datagrams_received{0};
  std::atomic<uint64_t> rx_packets{0};
  std::atomic<uint64_t> rx_bytes{0};
  std::atomic<uint64_t> tx_packets{0};
  std::atomic<uint64_t> tx_bytes{0};
  std::atomic<uint64_t> handshakes_completed{0};
  std::atomic<uint64_t> cookies_sent{0};
  std::array<std::atomic<uint64_t>, core::kDropReasonCount> drops{};
  std::array<std::atomic<uint64_t>, core::kHandshakeFailureCount> failures{};

  void Drop(core::DropReason reason, uint64_t count = 1) {
    if (count == 0) return;
    drops[static_cast<size_t>(reason)].fetch_add(count,
                                                 std::memory_order_relaxed);
  }
  uint64_t dropped(core::DropReason reason) const {
    return drops[static_cast<size_t>(reason)].load(std::memory_order_relaxed);
  }
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_GATEWAY_OBSERVER_H_
