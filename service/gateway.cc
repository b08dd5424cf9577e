// Binds the per-worker sockets and fans control operations out to shards.
#include "service/gateway.h"

#include "tunnel/io/udp_socket.h"

namespace snaptun::service {

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Start(
    WorkerPool& pool, const core::LocalIdentity& identity,
    const core::Authorizer& authorizer, const GatewayConfig& config,
    GatewayObserver* observer) {
  std::unique_ptr<Gateway> gateway(new Gateway());
  gateway->mode_ = config.mode;
  GatewayShardConfig shard_config;
  shard_config.table.mode = config.mode;
  shard_config.table.max_tunnels =
      (config.max_tunnels + pool.size() - 1) / pool.size();
  shard_config.table.max_tunnels_per_identity = config.max_tunnels_per_identity;
  shard_config.table.rate_limiter = config.rate_limiter;
  shard_config.receive_queue_capacity = config.receive_queue_capacity;
  shard_config.send_queue_capacity = config.send_queue_capacity;
  shard_config.metrics = config.metrics;
  // One limiter and replay record for all workers (see handshake_ledger.h).
  gateway->ledger_ = std::make_unique<core::HandshakeLedger>(
      config.rate_limiter, std::max<size_t>(config.max_tunnels, 1024));
  io::UdpSocketOptions options;
  options.reuse_port = true;
  core::Endpoint bind_to = config.listen;
  for (size_t i = 0; i < pool.size(); ++i) {
    absl::StatusOr<io::UdpSocket> socket =
        io::UdpSocket::Bind(bind_to, options);
    if (!socket.ok()) return socket.status();
    if (i == 0) {
      // With port 0 the first socket picks the port the others share.
      absl::StatusOr<core::Endpoint> local = socket->LocalEndpoint();
      if (!local.ok()) return local.status();
      gateway->local_address_ = *local;
      bind_to = *local;
    }
    gateway->shards_.push_back(std::make_shared<GatewayShard>(
        pool.at(i), std::move(*socket), identity, authorizer, shard_config,
        observer, gateway->stats_, gateway->ledger_.get()));
  }
  for (auto& shard : gateway->shards_) {
    shard->worker().RunAndWait([&] { shard->Start(); });
  }
  return gateway;
}

Gateway::~Gateway() { Stop(); }

void Gateway::Stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& shard : shards_) {
    shard->worker().RunAndWait([&] { shard->Stop(); });
  }
}

size_t Gateway::RevokeIdentity(const crypto::PublicKey& identity) {
  size_t removed = 0;
  for (auto& shard : shards_) {
    shard->worker().RunAndWait(
        [&] { removed += shard->RemoveIdentity(identity); });
  }
  return removed;
}

bool Gateway::CloseTunnel(const core::Endpoint& remote) {
  bool removed = false;
  for (auto& shard : shards_) {
    shard->worker().RunAndWait([&] { removed |= shard->Remove(remote); });
  }
  return removed;
}

size_t Gateway::tunnel_count() const {
  size_t total = 0;
  for (const auto& shard : shards_) total += shard->tunnels();
  return total;
}

}  // namespace snaptun::service
