// The gateway role: listens on one UDP address with one SO_REUSEPORT socket
// per worker, accepts handshakes from identities the authorizer currently
// allows, keeps one tunnel per remote socket address, and hands each
// accepted tunnel's port to the observer. Revocation reaches every worker at
// once and closes the identity's tunnels.
#ifndef SNAPTUN_SERVICE_GATEWAY_H_
#define SNAPTUN_SERVICE_GATEWAY_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "service/dataplane_metrics.h"
#include "service/gateway_config.h"
#include "service/gateway_observer.h"
#include "service/gateway_shard.h"
#include "service/worker.h"
#include "tunnel/core/authorizer.h"
#include "tunnel/core/identity.h"

namespace snaptun::service {

// The gateway role's counts as of now: a view of the one count, which is its
// tunnels' ports' (role_traffic.h) and, for what had no tunnel, the role's
// worker-local metric cells (dataplane_metrics.h); not a second set of
// counters. The tunnels' counts have the shape of one tunnel's
// (`handshakes` are the completed ones); the rest have no tunnel.
struct GatewayStats : CountersSnapshot {
  uint64_t datagrams_received = 0;
  uint64_t cookies_sent = 0;
  std::array<uint64_t, core::kHandshakeFailureCount> failures{};
};

class Gateway {
 public:
  static absl::StatusOr<std::unique_ptr<Gateway>> Start(
      WorkerPool& pool, const core::LocalIdentity& identity,
      const core::Authorizer& authorizer, const GatewayConfig& config,
      GatewayObserver* observer);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Closes every socket and tunnel; waits for the workers to do it.
  void Stop();
  const core::Endpoint& local_address() const { return local_address_; }
  core::Mode mode() const { return config_->table.mode; }
  // Closes every tunnel of `identity` on every worker; returns how many.
  // Waits for the workers: not for gRPC callback threads.
  size_t RevokeIdentity(const crypto::PublicKey& identity);
  // The same without waiting: `done` runs with the count on the worker
  // that finishes last.
  void RevokeIdentityAsync(const crypto::PublicKey& identity,
                           std::function<void(size_t)> done);
  // Closes the tunnel at `remote` whose port is `port`, on its worker,
  // without waiting. A newer tunnel that has taken the address by the time
  // the worker runs this is left alone: the session being closed is the one
  // that had `port`.
  void CloseTunnelAsync(const core::Endpoint& remote,
                        std::shared_ptr<const TunnelPort> port);
  size_t tunnel_count() const;
  // Summed on each worker in turn: not from a worker or a gRPC callback.
  GatewayStats stats() const;

 private:
  Gateway() = default;
  // Counts into `metrics`, or into metrics of its own when it is null.
  void UseMetrics(DataPlaneMetrics* metrics);

  core::Endpoint local_address_;
  // The role's one config, shared by every shard; its metrics are metrics_.
  std::shared_ptr<const GatewayConfig> config_;
  // The metrics the shards count into: the config's, or these of its own.
  std::unique_ptr<prometheus::Registry> own_registry_;
  std::unique_ptr<metrics::WorkerMetrics> own_cells_;
  std::unique_ptr<DataPlaneMetrics> own_metrics_;
  DataPlaneMetrics* metrics_ = nullptr;
  // The shards' counts and ledger.
  std::shared_ptr<GatewayShared> shared_ = std::make_shared<GatewayShared>();
  // Each shard is a resident of its worker, which owns it; the gateway
  // reaches it by id, on that worker.
  struct ShardRef {
    Worker* worker;
    ResidentId id;
    // On the worker (or once its loop has finished): the shard, if it is
    // still there.
    GatewayShard* Find() const {
      return worker->residents().Find<GatewayShard>(id);
    }
  };
  std::vector<ShardRef> shards_;
  bool stopped_ = false;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_GATEWAY_H_
