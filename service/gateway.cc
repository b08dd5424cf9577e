// Binds the per-worker sockets and fans control operations out to shards.
#include "service/gateway.h"

#include "absl/strings/str_cat.h"
#include "tunnel/io/udp_channel.h"

namespace snaptun::service {

core::TunnelTableConfig TableShare(const GatewayConfig& config,
                                   size_t workers) {
  core::TunnelTableConfig share = config.table;
  // With a shared quota, the quota is the limit and a busy worker may hold
  // more than its share; without one, each worker enforces its share.
  if (share.quota == nullptr) {
    share.max_tunnels = (share.max_tunnels + workers - 1) / workers;
  }
  return share;
}

namespace {

// SO_REUSEPORT lets any process of the same user join a port (even one
// picked for port 0) and take a share of its traffic. A socket without it
// cannot bind while anyone holds the port, so a second daemon fails here
// instead of splitting the first one's tunnels, and port 0 resolves to a
// port nobody holds. (Two daemons starting in the same instant can still
// both pass; nothing short of a lock closes that window.)
absl::StatusOr<core::Endpoint> ClaimAddress(io::DatagramNetwork& network,
                                            const core::Endpoint& listen) {
  io::UdpSocketOptions probe;
  probe.gro = false;
  absl::StatusOr<std::unique_ptr<io::DatagramChannel>> exclusive =
      network.Bind(listen, probe);
  if (!exclusive.ok()) {
    return absl::Status(
        exclusive.status().code(),
        absl::StrCat(exclusive.status().message(),
                     " (is another snaptund already listening there?)"));
  }
  return (*exclusive)->LocalEndpoint();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Start(
    WorkerPool& pool, const core::LocalIdentity& identity,
    const core::Authorizer& authorizer, const GatewayConfig& config,
    GatewayObserver* observer) {
  std::unique_ptr<Gateway> gateway(new Gateway());
  gateway->UseMetrics(config.metrics);
  auto role_config = std::make_shared<GatewayConfig>(config);
  role_config->metrics = gateway->metrics_;
  gateway->config_ = std::move(role_config);
  gateway->shared_->ledger = std::make_unique<core::HandshakeLedger>(
      config.table.rate_limiter,
      std::max<size_t>(config.table.max_tunnels, 1024));
  io::DatagramNetwork& network = io::UdpNetwork::Or(config.network);
  absl::StatusOr<core::Endpoint> claimed = ClaimAddress(network, config.listen);
  if (!claimed.ok()) return claimed.status();
  gateway->local_address_ = *claimed;
  io::UdpSocketOptions options = config.socket;
  options.reuse_port = true;
  for (size_t i = 0; i < pool.size(); ++i) {
    absl::StatusOr<std::unique_ptr<io::DatagramChannel>> channel =
        network.Bind(gateway->local_address_, options);
    if (!channel.ok()) return channel.status();
    gateway->metrics_->role(Role::kGateway)
        .SocketBuffers(
            options.receive_buffer_bytes, (*channel)->receive_buffer_bytes(),
            options.send_buffer_bytes, (*channel)->send_buffer_bytes());
    Worker& worker = pool.at(i);
    const ResidentId id = worker.residents().NextId();
    auto shard = std::make_unique<GatewayShard>(
        worker, id, std::move(*channel), identity, authorizer, gateway->config_,
        pool.size(), observer, gateway->shared_);
    absl::Status started;
    worker.RunAndWait([&] {
      GatewayShard* running = shard.get();
      worker.residents().Add(id, std::move(shard));
      started = running->Start();
    });
    gateway->shards_.push_back({&worker, id});
    // The destructor stops the shards already started.
    if (!started.ok()) return started;
  }
  return gateway;
}

Gateway::~Gateway() { Stop(); }

void Gateway::UseMetrics(DataPlaneMetrics* metrics) {
  if (metrics != nullptr) {
    metrics_ = metrics;
    return;
  }
  own_registry_ = std::make_unique<prometheus::Registry>();
  own_cells_ = std::make_unique<metrics::WorkerMetrics>();
  own_metrics_ =
      std::make_unique<DataPlaneMetrics>(*own_registry_, *own_cells_);
  metrics_ = own_metrics_.get();
}

GatewayStats Gateway::stats() const {
  const RoleMetrics& m = metrics_->role(Role::kGateway);
  GatewayStats stats;
  static_cast<CountersSnapshot&>(stats) = m.Counts();
  stats.datagrams_received = shared_->datagrams_received.Value();
  stats.cookies_sent = metrics_->cookies_sent().Value();
  // Index 0 is kNone, which has no series.
  for (size_t i = 1; i < core::kHandshakeFailureCount; ++i) {
    stats.failures[i] = m.failures[i]->Value();
  }
  return stats;
}

void Gateway::Stop() {
  if (stopped_) return;
  stopped_ = true;
  for (const ShardRef& ref : shards_) {
    ref.worker->RunAndWait([&] {
      if (GatewayShard* shard = ref.Find()) {
        shard->Stop();
        ref.worker->residents().Retire(ref.id);
      }
    });
  }
}

size_t Gateway::RevokeIdentity(const crypto::PublicKey& identity) {
  size_t removed = 0;
  for (const ShardRef& ref : shards_) {
    ref.worker->RunAndWait([&] {
      if (GatewayShard* shard = ref.Find()) {
        removed += shard->RemoveIdentity(identity);
      }
    });
  }
  return removed;
}

void Gateway::RevokeIdentityAsync(const crypto::PublicKey& identity,
                                  std::function<void(size_t)> done) {
  struct Tally {
    std::atomic<size_t> removed{0};
    std::atomic<size_t> left{0};
    std::function<void(size_t)> done;
  };
  auto tally = std::make_shared<Tally>();
  tally->left = shards_.size();
  tally->done = std::move(done);
  if (shards_.empty()) {
    tally->done(0);
    return;
  }
  // Run, not RunOn: every shard answers, a stopped one with 0.
  for (const ShardRef& ref : shards_) {
    ref.worker->Run([ref, identity, tally] {
      if (GatewayShard* shard = ref.Find()) {
        tally->removed += shard->RemoveIdentity(identity);
      }
      if (--tally->left == 0) tally->done(tally->removed.load());
    });
  }
}

void Gateway::CloseTunnelAsync(const core::Endpoint& remote,
                               std::shared_ptr<const TunnelPort> port) {
  for (const ShardRef& ref : shards_) {
    ref.worker->RunOn<GatewayShard>(ref.id,
                                    [remote, port](GatewayShard& shard) {
                                      shard.Remove(remote, port.get());
                                    });
  }
}

size_t Gateway::tunnel_count() const {
  return shared_->tunnels.load(std::memory_order_relaxed);
}

}  // namespace snaptun::service
