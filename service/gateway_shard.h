// One worker's share of the gateway: its own SO_REUSEPORT socket on the
// gateway's port (the kernel spreads remote addresses over the sockets, so a
// remote address always lands on the same shard), the tunnel table for the
// tunnels that arrive there, and the ports through which those tunnels'
// payloads leave and enter. Everything here runs on the worker's thread.
#ifndef SNAPTUN_SERVICE_GATEWAY_SHARD_H_
#define SNAPTUN_SERVICE_GATEWAY_SHARD_H_

#include <atomic>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "service/gateway_observer.h"
#include "service/tunnel_port.h"
#include "service/worker.h"
#include "tunnel/core/tunnel_table.h"
#include "tunnel/io/udp_socket.h"

namespace snaptun::service {

struct GatewayShardConfig {
  core::TunnelTableConfig table;
  size_t receive_queue_capacity = 1024;
  size_t send_queue_capacity = 1024;
};

class GatewayShard : public std::enable_shared_from_this<GatewayShard> {
 public:
  GatewayShard(Worker& worker, io::UdpSocket socket,
               const core::LocalIdentity& identity,
               const core::Authorizer& authorizer,
               const GatewayShardConfig& config, GatewayObserver* observer,
               GatewayStats& stats);

  // Loop-thread only.
  void Start();
  void Stop();
  size_t RemoveIdentity(const crypto::PublicKey& identity);
  bool Remove(const core::Endpoint& remote);

  Worker& worker() { return worker_; }
  size_t tunnels() const { return tunnels_.load(std::memory_order_relaxed); }

 private:
  void OnReadable();
  void OnTimer();
  void DrainPort(const core::Endpoint& remote);
  void FlushDeliveries();
  // Acts on everything the table asked for, sends, re-arms the timer.
  void Apply();
  void Reschedule();

  Worker& worker_;
  io::UdpSocket socket_;
  const core::Mode mode_;
  const GatewayShardConfig config_;
  GatewayObserver* const observer_;
  GatewayStats& stats_;
  core::TunnelTable table_;
  core::TableOutput out_;
  absl::flat_hash_map<core::Endpoint, std::shared_ptr<TunnelPort>> ports_;
  std::vector<Packet> outbound_;
  // Payloads of one receive batch, delivered per port after the batch.
  std::vector<std::pair<TunnelPort*, absl::Span<const uint8_t>>> deliveries_;
  std::vector<absl::Span<const uint8_t>> run_;
  io::EventLoop::TimerId timer_ = 0;
  absl::Time timer_at_ = absl::InfiniteFuture();
  std::atomic<size_t> tunnels_{0};
  bool running_ = false;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_GATEWAY_SHARD_H_
