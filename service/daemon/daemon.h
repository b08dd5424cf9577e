// snaptund assembled: the worker pool, the optional gateway, the session
// manager, the gRPC server (TunnelService, GatewayService, health,
// reflection; TLS or mTLS when configured; bearer token when configured),
// and the metrics exporter. Drain() is the SIGTERM path: not ready, stop
// accepting calls, close every tunnel, stop.
#ifndef SNAPTUN_SERVICE_DAEMON_DAEMON_H_
#define SNAPTUN_SERVICE_DAEMON_DAEMON_H_

#include <grpcpp/grpcpp.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "metrics/exporter.h"
#include "metrics/exposition.h"
#include "metrics/grpc_server_metrics.h"
#include "metrics/worker_metrics.h"
#include "service/api/api_auth.h"
#include "service/api/gateway_service.h"
#include "service/api/tunnel_service.h"
#include "service/control_plane/registrar.h"
#include "service/control_plane/token_file.h"
#include "service/dataplane_metrics.h"
#include "service/gateway.h"
#include "service/grant_reaper.h"
#include "service/identity_store.h"
#include "service/packet_policy.h"
#include "service/session_manager.h"
#include "service/worker.h"

namespace snaptun::service {

struct DaemonConfig {
  std::string grpc_listen = "127.0.0.1:50051";
  std::string metrics_listen = "127.0.0.1:9464";
  std::string gateway_listen;  // Empty: gateway role off.
  core::Mode gateway_mode = core::Mode::kSnap;
  // What the gateway checks in its clients' packets, and the ISD-ASes it
  // counts them by (packet_policy.h; accounting needs the scion policy).
  PacketPolicyKind gateway_packet_policy = PacketPolicyKind::kNone;
  std::vector<scion::IsdAs> gateway_ia_accounting;
  std::string private_key_file = "snaptund.key";
  size_t workers = 0;
  size_t max_tunnels = 100000;
  size_t max_tunnels_per_identity = 1024;
  std::string snap_token_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  std::string api_token_file;
  // Control-plane calls: hosts that may be called over plain http:// (the
  // SNAP token would cross the network in clear text), and the largest
  // answer accepted.
  std::vector<std::string> control_plane_plain_http_hosts;
  size_t control_plane_max_response_bytes = size_t{1} << 20;
  // PEM CA bundle for https:// control planes; empty: libcurl's default.
  std::string control_plane_ca_file;
  // Bytes one tunnel's port may hold each way, and all ports together.
  size_t queue_bytes_per_tunnel = size_t{2} << 20;
  size_t queue_budget_bytes = size_t{256} << 20;
  // gRPC: keepalive pings the server sends (and how long it waits for the
  // answer), the shortest interval between client pings it accepts, the
  // largest message it accepts, and the payload bytes of one PacketBatch it
  // writes.
  absl::Duration grpc_keepalive_time = absl::Seconds(30);
  absl::Duration grpc_keepalive_timeout = absl::Seconds(10);
  absl::Duration grpc_min_client_ping_interval = absl::Seconds(5);
  size_t grpc_max_receive_message_bytes = size_t{4} << 20;
  size_t stream_batch_max_bytes = size_t{1} << 20;
  // Kernel buffers of every data-plane socket, and UDP GRO on receive.
  io::UdpSocketOptions socket;
  // Client tunnels probe their SNAP gateway's liveness with keepalives.
  bool keepalive_probes = true;
  // Closed tunnels remembered for GetTunnel/ListTunnels.
  size_t closed_tunnel_max = 1000;
  absl::Duration closed_tunnel_retention = absl::Minutes(5);
  // Authorized identities a gateway holds.
  size_t max_identities = 1000000;
  // WatchTunnels streams at once, and the bytes of events each may hold.
  size_t max_watchers = 256;
  size_t watcher_queue_bytes = size_t{1} << 20;
  // Handshakes per second per source address before cookies, and before
  // drops (a whole NAT or client host shares one source address).
  core::RateLimiterConfig handshake_limits;
  // snaptun_build_info's labels.
  std::string build_version = "unknown";
  std::string build_revision = "unknown";
};

class Daemon {
 public:
  static absl::StatusOr<std::unique_ptr<Daemon>> Start(
      const DaemonConfig& config);
  ~Daemon();

  // Blocks until Drain() finished.
  void Wait();
  // The lame-duck period before a drain: /readyz and gRPC health report
  // not serving, so load balancers and endpoint controllers stop sending
  // new work, while every tunnel, stream and call keeps working.
  void EnterLameDuck();
  void Drain();

  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return exporter_->port(); }
  const core::Endpoint* gateway_address() const;
  const crypto::PublicKey& public_key() const {
    return identity_->public_key();
  }
  SessionManager& sessions() { return *sessions_; }
  // Null without --snap_token_file.
  const Registrar* registrar() const { return registrar_.get(); }

 private:
  Daemon() = default;
  // Start's steps in order, stopping at the first error; `api_token` holds
  // the token read, for the caller to zero.
  absl::Status StartSteps(const DaemonConfig& config, std::string& api_token);
  // The private key, the API token (into
  // `api_token`), the SNAP token and the control plane's CA bundle: a bad
  // one fails start-up.
  absl::Status ReadSecrets(const DaemonConfig& config, std::string& api_token);
  // Metrics, workers, queue budget, tunnel quota, session manager and the
  // control-plane registrar.
  void StartSessions(const DaemonConfig& config);
  // The gateway role, when --gateway_listen is set.
  absl::Status StartGateway(const DaemonConfig& config);
  // The API services and the gRPC server; takes the API token.
  absl::Status StartServer(
      const DaemonConfig& config, std::string& api_token,
      const std::shared_ptr<grpc::ServerCredentials>& credentials);
  // /metrics and the probes; reports the daemon ready.
  absl::Status StartExporter(const DaemonConfig& config);
  PortLimits PortLimitsFor(const DaemonConfig& config) const;
  // The gRPC interceptor's metrics, build info, and every collectable
  // /metrics serves.
  void ExposeMetrics(const DaemonConfig& config);

  io::SystemClock clock_;
  std::unique_ptr<ByteBudget> queue_budget_;
  std::unique_ptr<core::TunnelQuota> tunnel_quota_;
  std::unique_ptr<core::LocalIdentity> identity_;
  // Series set by control threads live in the library's Registry; what
  // workers count lives in worker cells; /metrics serves both and more.
  std::shared_ptr<prometheus::Registry> registry_ =
      std::make_shared<prometheus::Registry>();
  std::shared_ptr<metrics::WorkerMetrics> worker_metrics_ =
      std::make_shared<metrics::WorkerMetrics>();
  metrics::Exposition exposition_;
  std::unique_ptr<DataPlaneMetrics> metrics_;
  std::unique_ptr<metrics::GrpcServerMetrics> grpc_metrics_;
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<IdentityStore> identities_;
  std::unique_ptr<GrantReaper> grant_reaper_;
  std::unique_ptr<PacketPolicy> packet_policy_;
  std::unique_ptr<TokenFile> snap_token_;
  std::unique_ptr<Registrar> registrar_;
  std::unique_ptr<SessionManager> sessions_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<ApiAuth> auth_;
  std::unique_ptr<TunnelServiceImpl> tunnel_service_;
  std::unique_ptr<GatewayServiceImpl> gateway_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<metrics::Exporter> exporter_;
  int grpc_port_ = 0;
  absl::Mutex mu_;
  bool drained_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_DAEMON_DAEMON_H_
