// The gateway role: listens on one UDP address with one SO_REUSEPORT socket
// per worker, accepts handshakes from identities the authorizer currently
// allows, keeps one tunnel per remote socket address, and hands each
// accepted tunnel's port to the observer. Revocation reaches every worker at
// once and closes the identity's tunnels.
#ifndef SNAPTUN_SERVICE_GATEWAY_H_
#define SNAPTUN_SERVICE_GATEWAY_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "service/dataplane_metrics.h"
#include "service/gateway_observer.h"
#include "service/gateway_shard.h"
#include "service/worker.h"
#include "tunnel/core/authorizer.h"
#include "tunnel/core/identity.h"

namespace snaptun::service {

struct GatewayConfig {
  core::Endpoint listen;
  core::Mode mode = core::Mode::kSnap;
  // Process-wide; each worker enforces its share (rounded up).
  size_t max_tunnels = 100000;
  // Enforced per worker: an identity's tunnels from different addresses may
  // land on different workers.
  size_t max_tunnels_per_identity = 16;
  size_t receive_queue_capacity = 1024;
  size_t send_queue_capacity = 1024;
  core::RateLimiterConfig rate_limiter;
  // Optional; outlives the gateway.
  DataPlaneMetrics* metrics = nullptr;
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
  core::Mode mode() const { return mode_; }
  // Closes every tunnel of `identity` on every worker; returns how many.
  size_t RevokeIdentity(const crypto::PublicKey& identity);
  bool CloseTunnel(const core::Endpoint& remote);
  size_t tunnel_count() const;
  const GatewayStats& stats() const { return stats_; }

 private:
  Gateway() = default;

  core::Endpoint local_address_;
  core::Mode mode_ = core::Mode::kSnap;
  GatewayStats stats_;
  std::unique_ptr<core::HandshakeLedger> ledger_;
  std::vector<std::shared_ptr<GatewayShard>> shards_;
  bool stopped_ = false;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_GATEWAY_H_
