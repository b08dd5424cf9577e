// What the gateway tells the layer above it (the session manager, tests)
// about accepted tunnels, in the lifecycle's terms (tunnel_lifecycle.h):
// the shard decides each change once, and the observer applies it.
// Observer calls come from worker threads and must not block.
#ifndef SNAPTUN_SERVICE_GATEWAY_OBSERVER_H_
#define SNAPTUN_SERVICE_GATEWAY_OBSERVER_H_

#include <cstdint>
#include <memory>

#include "service/tunnel_lifecycle.h"
#include "service/tunnel_port.h"
#include "tunnel/core/endpoint.h"
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
  // A handshake completed on the tunnel: ESTABLISHED the first time,
  // REKEYED after (AfterHandshake).
  virtual void OnTunnelChanged(const GatewayTunnelInfo& info,
                               const Transition& change) {}
  virtual void OnTunnelRemoved(const GatewayTunnelInfo& info,
                               core::RemovalReason reason) {}
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_GATEWAY_OBSERVER_H_
