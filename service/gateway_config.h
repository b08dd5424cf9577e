// What a gateway is started with: one immutable object per role, shared by
// the gateway and every shard (each shard's tunnel table takes its share of
// `table` from it), so a setting is named once and copied nowhere.
#ifndef SNAPTUN_SERVICE_GATEWAY_CONFIG_H_
#define SNAPTUN_SERVICE_GATEWAY_CONFIG_H_

#include "service/dataplane_metrics.h"
#include "service/packet_policy.h"
#include "service/tunnel_port.h"
#include "tunnel/core/endpoint.h"
#include "tunnel/core/tunnel_table.h"
#include "tunnel/io/datagram_channel.h"
#include "tunnel/io/udp_socket.h"

namespace snaptun::service {

struct GatewayConfig {
  core::Endpoint listen;
  // The tunnel tables' mode and limits (tunnel_table.h). max_tunnels is
  // process-wide: each worker enforces its share (rounded up) unless a
  // quota shared with the client role is given, which then bounds the sum.
  // max_tunnels_per_identity is enforced per worker: an identity's tunnels
  // from different addresses may land on different workers.
  core::TunnelTableConfig table;
  // Each tunnel's port: queues in packets and bytes, and the budget they
  // share with every other port.
  PortLimits port;
  // Kernel socket buffers asked for (with CAP_NET_ADMIN also beyond
  // rmem_max/wmem_max), --socket_receive_buffer_kib and _send_, and UDP GRO
  // (--socket_gro). reuse_port is the gateway's own business.
  io::UdpSocketOptions socket;
  // Where the shards' channels come from; null: real UDP (io::UdpNetwork).
  // Outlives the gateway.
  io::DatagramNetwork* network = nullptr;
  // Optional; outlives the gateway. Without it the gateway counts into
  // metrics of its own, which only stats() reads.
  DataPlaneMetrics* metrics = nullptr;
  // The packet policy on what clients send (optional; outlives the
  // gateway).
  const PacketPolicy* policy = nullptr;
};

// One worker's share of `config.table` among `workers`.
core::TunnelTableConfig TableShare(const GatewayConfig& config, size_t workers);

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_GATEWAY_CONFIG_H_
