// Start-up order matters: identity and metrics, workers, gateway, sessions,
// API, exporter; readiness last. Drain reverses it.
#include "service/daemon/daemon.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <sys/resource.h>

#include <algorithm>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "metrics/process_metrics.h"
#include "service/daemon/saturation_metrics.h"
#include "service/secrets/secret_files.h"
#include "tunnel/crypto/key_text.h"

namespace snaptun::service {
namespace {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
    const DaemonConfig& config) {
  if (config.tls_cert_file.empty() && config.tls_key_file.empty()) {
    if (!config.tls_client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "--tls_client_ca_file needs --tls_cert_file and --tls_key_file");
    }
    return grpc::InsecureServerCredentials();
  }
  if (config.tls_cert_file.empty() || config.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs both --tls_cert_file and --tls_key_file");
  }
  absl::StatusOr<std::string> cert = ReadPlainFile(config.tls_cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadSecretFile(config.tls_key_file);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({*key + "\n", *cert});
  crypto::SecureZero(key->data(), key->size());
  if (!config.tls_client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPlainFile(config.tls_client_ca_file);
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
    options.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  auto credentials = grpc::SslServerCredentials(options);
  crypto::SecureZero(options.pem_key_cert_pairs[0].private_key.data(),
                     options.pem_key_cert_pairs[0].private_key.size());
  return credentials;
}

// Each client tunnel holds a socket. Raises the soft RLIMIT_NOFILE to the
// hard one, and returns how many client tunnels fit while leaving room for
// the API's connections, the exporter and files.
size_t ClientTunnelsAllowedByFds(size_t max_tunnels) {
  constexpr rlim_t kReserve = 256;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return max_tunnels;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY) return max_tunnels;
  const size_t allowed =
      limit.rlim_cur > kReserve ? limit.rlim_cur - kReserve : 0;
  if (allowed < max_tunnels) {
    std::cerr << "snaptund: RLIMIT_NOFILE is " << limit.rlim_cur
              << ": client tunnels are limited to " << allowed
              << " (below --max_tunnels " << max_tunnels
              << "); raise the limit to allow more\n";
  }
  return std::min(allowed, max_tunnels);
}

// Keepalive both ways (docs/API.md): the server pings every
// grpc_keepalive_time and drops a connection whose peer does not answer
// within grpc_keepalive_timeout, so a dead or hung caller's streams end and
// their tunnels can be attached again; it accepts client pings as often as
// grpc_min_client_ping_interval, with or without calls in flight, so common
// client settings (every 10 s) are not answered with GOAWAY.
void ConfigureKeepalive(const DaemonConfig& config,
                        grpc::ServerBuilder& builder) {
  auto ms = [](absl::Duration d) {
    return static_cast<int>(absl::ToInt64Milliseconds(d));
  };
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             ms(config.grpc_keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             ms(config.grpc_keepalive_timeout));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      ms(config.grpc_min_client_ping_interval));
}

// True when `listen` (host:port) only accepts connections from this host.
bool IsLoopback(const std::string& listen) {
  return absl::StartsWith(listen, "127.") ||
         absl::StartsWith(listen, "[::1]:") ||
         absl::StartsWith(listen, "localhost:") ||
         absl::StartsWith(listen, "unix:");
}

}  // namespace

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(
    const DaemonConfig& config) {
  std::unique_ptr<Daemon> d(new Daemon());
  std::string api_token;
  const absl::Status started = d->StartSteps(config, api_token);
  crypto::SecureZero(api_token.data(), api_token.size());
  if (!started.ok()) return started;
  return d;
}

absl::Status Daemon::StartSteps(const DaemonConfig& config,
                                std::string& api_token) {
  if (absl::Status s = ReadSecrets(config, api_token); !s.ok()) return s;
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      Credentials(config);
  if (!credentials.ok()) return credentials.status();
  StartSessions(config);
  if (absl::Status s = StartGateway(config); !s.ok()) return s;
  if (absl::Status s = StartServer(config, api_token, *credentials); !s.ok()) {
    return s;
  }
  return StartExporter(config);
}

absl::Status Daemon::ReadSecrets(const DaemonConfig& config,
                                 std::string& api_token) {
  bool created = false;
  absl::StatusOr<crypto::PrivateKey> key =
      LoadOrCreatePrivateKey(config.private_key_file, &created);
  if (!key.ok()) return key.status();
  identity_ = std::make_unique<core::LocalIdentity>(*key);
  std::cerr << "snaptund: " << (created ? "generated" : "loaded")
            << " private key " << config.private_key_file << "; public key "
            << crypto::EncodeKey(identity_->public_key().data()) << "\n";

  if (!config.api_token_file.empty()) {
    absl::StatusOr<std::string> token = ReadSecretFile(config.api_token_file);
    if (!token.ok()) return token.status();
    api_token = std::move(*token);
  }
  if (!config.snap_token_file.empty()) {
    // Read now so a bad file fails start-up, not the first registration.
    absl::StatusOr<std::unique_ptr<TokenFile>> token =
        TokenFile::Open(config.snap_token_file);
    if (!token.ok()) return token.status();
    snap_token_ = std::move(*token);
  }
  if (!config.control_plane_ca_file.empty()) {
    // Read now so a missing or empty bundle fails start-up, not every
    // registration later.
    absl::StatusOr<std::string> ca =
        ReadPlainFile(config.control_plane_ca_file);
    if (!ca.ok()) return ca.status();
    if (!absl::StrContains(*ca, "-----BEGIN CERTIFICATE-----")) {
      return absl::InvalidArgumentError(
          absl::StrCat("--control_plane_ca_file ", config.control_plane_ca_file,
                       " holds no PEM certificate"));
    }
  }
  return absl::OkStatus();
}

PortLimits Daemon::PortLimitsFor(const DaemonConfig& config) const {
  PortLimits port;
  port.receive_bytes = config.queue_bytes_per_tunnel;
  port.send_bytes = config.queue_bytes_per_tunnel;
  port.budget = queue_budget_.get();
  return port;
}

void Daemon::StartSessions(const DaemonConfig& config) {
  metrics_ = std::make_unique<DataPlaneMetrics>(*registry_, *worker_metrics_);
  pool_ = std::make_unique<WorkerPool>(clock_, config.workers);
  queue_budget_ = std::make_unique<ByteBudget>(config.queue_budget_bytes);
  tunnel_quota_ = std::make_unique<core::TunnelQuota>(config.max_tunnels);
  SessionLimits limits;
  limits.max_client_tunnels = ClientTunnelsAllowedByFds(config.max_tunnels);
  limits.quota = tunnel_quota_.get();
  limits.max_tunnels = config.max_tunnels;
  limits.max_tunnels_per_identity = config.max_tunnels_per_identity;
  limits.client.port = PortLimitsFor(config);
  limits.max_watchers = config.max_watchers;
  limits.client.socket = config.socket;
  limits.client.keepalive_probes = config.keepalive_probes;
  limits.closed_max = config.closed_tunnel_max;
  limits.closed_retention = config.closed_tunnel_retention;
  limits.watcher.bytes = config.watcher_queue_bytes;
  sessions_ = std::make_unique<SessionManager>(*pool_, *identity_, limits,
                                               metrics_.get());
  if (snap_token_ != nullptr) {
    RegistrarConfig registrar_config;
    registrar_config.call.plain_http_hosts =
        config.control_plane_plain_http_hosts;
    registrar_config.call.max_response_bytes =
        config.control_plane_max_response_bytes;
    registrar_config.call.ca_file = config.control_plane_ca_file;
    registrar_ =
        std::make_unique<Registrar>(identity_->public_key(), *snap_token_,
                                    metrics_.get(), registrar_config);
    Registrar* registrar = registrar_.get();
    snap_token_->SetListener([registrar] { registrar->RegisterAll(); });
    sessions_->AttachRegistrar(registrar);
  }
}

absl::Status Daemon::StartGateway(const DaemonConfig& config) {
  if (config.gateway_listen.empty()) return absl::OkStatus();
  const std::optional<core::Endpoint> listen =
      core::Endpoint::Parse(config.gateway_listen);
  if (!listen.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--gateway_listen must be ip:port, got ", config.gateway_listen));
  }
  identities_ =
      std::make_unique<IdentityStore>(config.max_identities, identity_.get());
  grant_reaper_ =
      std::make_unique<GrantReaper>(pool_->at(0).loop(), *identities_);
  if (!config.gateway_ia_accounting.empty() &&
      config.gateway_packet_policy != PacketPolicyKind::kScion) {
    return absl::InvalidArgumentError(
        "--gateway_ia_accounting counts packets the SCION policy parses: "
        "add --gateway_packet_policy=scion");
  }
  packet_policy_ = std::make_unique<PacketPolicy>(config.gateway_packet_policy,
                                                  config.gateway_ia_accounting,
                                                  worker_metrics_.get());
  GatewayConfig gateway_config;
  gateway_config.listen = *listen;
  gateway_config.policy = packet_policy_.get();
  gateway_config.table.mode = config.gateway_mode;
  gateway_config.table.max_tunnels = config.max_tunnels;
  gateway_config.table.quota = tunnel_quota_.get();
  gateway_config.table.max_tunnels_per_identity =
      config.max_tunnels_per_identity;
  gateway_config.metrics = metrics_.get();
  gateway_config.table.rate_limiter = config.handshake_limits;
  gateway_config.port = PortLimitsFor(config);
  gateway_config.socket = config.socket;
  absl::StatusOr<std::unique_ptr<Gateway>> gateway = Gateway::Start(
      *pool_, *identity_, *identities_, gateway_config, sessions_.get());
  if (!gateway.ok()) return gateway.status();
  gateway_ = std::move(*gateway);
  sessions_->AttachGateway(gateway_.get(), identities_.get());
  std::cerr << "snaptund: gateway listening on "
            << gateway_->local_address().ToString() << " (UDP)\n";
  return absl::OkStatus();
}

absl::Status Daemon::StartServer(
    const DaemonConfig& config, std::string& api_token,
    const std::shared_ptr<grpc::ServerCredentials>& credentials) {
  auth_ = std::make_unique<ApiAuth>(std::move(api_token));
  crypto::SecureZero(api_token.data(), api_token.size());
  tunnel_service_ = std::make_unique<TunnelServiceImpl>(
      *sessions_, *auth_, metrics_.get(), config.stream_batch_max_bytes);
  gateway_service_ = std::make_unique<GatewayServiceImpl>(
      *sessions_, *auth_, metrics_.get(), config.stream_batch_max_bytes);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  ExposeMetrics(config);
  grpc::ServerBuilder builder;
  {
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(grpc_metrics_->InterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
  }
  // gRPC sets SO_REUSEPORT by default, which would let a second daemon
  // answer half of this one's connections.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  ConfigureKeepalive(config, builder);
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(config.grpc_max_receive_message_bytes));
  builder.AddListeningPort(config.grpc_listen, credentials, &grpc_port_);
  builder.RegisterService(tunnel_service_.get());
  builder.RegisterService(gateway_service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || grpc_port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve gRPC on ", config.grpc_listen,
                     ": the address is malformed or in use (--grpc_listen)"));
  }
  return absl::OkStatus();
}

absl::Status Daemon::StartExporter(const DaemonConfig& config) {
  absl::StatusOr<std::unique_ptr<metrics::Exporter>> exporter =
      metrics::Exporter::Start(config.metrics_listen, exposition_);
  if (!exporter.ok()) return exporter.status();
  exporter_ = std::move(*exporter);
  if (!IsLoopback(config.grpc_listen) && !auth_->enabled() &&
      config.tls_cert_file.empty()) {
    std::cerr << "snaptund: WARNING: the gRPC API on " << config.grpc_listen
              << " is reachable off this host with neither an API token "
                 "(--api_token_file) nor TLS (--tls_cert_file): anyone who "
                 "can reach it can open tunnels and authorize identities\n";
  }
  // Health per service: a probe may name either service. GatewayService is
  // NOT_SERVING when the gateway role is off; all go NOT_SERVING on drain.
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  health->SetServingStatus("", true);
  health->SetServingStatus(v1::TunnelService::service_full_name(), true);
  health->SetServingStatus(v1::GatewayService::service_full_name(),
                           gateway_ != nullptr);
  exporter_->SetReady(true);
  std::cerr << "snaptund: gRPC on port " << grpc_port_
            << (config.tls_cert_file.empty() ? " (plaintext)" : " (TLS)")
            << (auth_->enabled() ? ", API token required" : "")
            << "; metrics on port " << exporter_->port() << "\n";
  return absl::OkStatus();
}

void Daemon::ExposeMetrics(const DaemonConfig& config) {
  using Type = grpc::experimental::ServerRpcInfo::Type;
  std::vector<metrics::GrpcMethod> methods =
      metrics::MethodsOf({v1::TunnelService::service_full_name(),
                          v1::GatewayService::service_full_name(),
                          "grpc.reflection.v1alpha.ServerReflection"});
  // gRPC's own health service has no descriptor in the generated pool.
  methods.push_back({"/grpc.health.v1.Health/Check", Type::UNARY});
  methods.push_back({"/grpc.health.v1.Health/Watch", Type::SERVER_STREAMING});
  grpc_metrics_ =
      std::make_unique<metrics::GrpcServerMetrics>(*registry_, methods);
  prometheus::BuildGauge()
      .Name("snaptun_build_info")
      .Help(
          "Always 1; the labels say which snaptund this is: version and "
          "the git revision it was built from.")
      .Register(*registry_)
      .Add({{"version", config.build_version},
            {"revision", config.build_revision}})
      .Set(1);
  exposition_.Add(registry_);
  exposition_.Add(worker_metrics_);
  exposition_.Add(std::make_shared<metrics::ProcessMetrics>());
  SaturationSources sources;
  sources.quota = tunnel_quota_.get();
  sources.max_tunnels_per_identity = config.max_tunnels_per_identity;
  sources.identities = identities_.get();
  sources.max_identities = config.max_identities;
  sources.sessions = sessions_.get();
  sources.max_watchers = config.max_watchers;
  sources.queue_budget = queue_budget_.get();
  exposition_.Add(std::make_shared<metrics::FunctionCollectable>(
      [sources] { return CollectSaturation(sources); }));
}

const core::Endpoint* Daemon::gateway_address() const {
  return gateway_ == nullptr ? nullptr : &gateway_->local_address();
}

void Daemon::Wait() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&drained_));
}

void Daemon::EnterLameDuck() {
  if (exporter_ != nullptr) exporter_->SetReady(false);
  if (server_ != nullptr) {
    server_->GetHealthCheckService()->SetServingStatus(false);
  }
}

void Daemon::Drain() {
  {
    absl::MutexLock lock(&mu_);
    if (drained_) return;
  }
  std::cerr << "snaptund: draining\n";
  EnterLameDuck();
  // Closing tunnels ends their packet streams (CANCELLED), and ending the
  // watchers (after the CLOSED events queued for them) ends theirs, so the
  // server's shutdown waits on no stream.
  if (sessions_ != nullptr) {
    sessions_->CloseAll("the daemon is shutting down");
    sessions_->EndWatchers();
  }
  // Registrations and discoveries under way are abandoned, not waited for,
  // so no open keeps the server's shutdown waiting on the control plane.
  if (registrar_ != nullptr) registrar_->Stop();
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(5));
  }
  if (gateway_ != nullptr) gateway_->Stop();
  grant_reaper_.reset();
  if (pool_ != nullptr) pool_->Stop();
  std::cerr << "snaptund: drained\n";
  absl::MutexLock lock(&mu_);
  drained_ = true;
}

Daemon::~Daemon() {
  Drain();
  // A scrape reads the session manager and the quota: stop serving them
  // before anything it reads goes away.
  exporter_.reset();
  if (snap_token_ != nullptr) snap_token_->SetListener(nullptr);
  // The registrar's threads call back into the session manager: stop and
  // join them first. The session manager still releases registrations as
  // it goes, so the registrar itself outlives it.
  if (registrar_ != nullptr) registrar_->Stop();
  sessions_.reset();
  registrar_.reset();
}

}  // namespace snaptun::service
