// snaptund: flags (also from a file with --flagfile=PATH), start, and
// SIGTERM/SIGINT/SIGHUP → drain → exit 0.
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "service/daemon/build_info.h"
#include "service/daemon/cpu_quota.h"
#include "service/daemon/daemon.h"
#include "service/daemon/self_check.h"

ABSL_FLAG(std::string, grpc_listen, "127.0.0.1:50051",
          "gRPC API address (host:port)");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9464",
          "HTTP address of /metrics, /healthz and /readyz");
ABSL_FLAG(std::string, gateway_listen, "",
          "UDP address of the gateway role (ip:port); empty turns it off");
ABSL_FLAG(std::string, gateway_mode, "snap",
          "wire protocol of the gateway: snap or wireguard");
ABSL_FLAG(std::string, private_key_file, "snaptund.key",
          "the static private key (base64); generated with 0600 when missing");
ABSL_FLAG(int, workers, 0,
          "data-plane worker threads; 0 = one per CPU this process may use "
          "(its affinity mask, capped by the cgroup CPU quota, rounded down)");
ABSL_FLAG(int, max_tunnels, 100000, "tunnels this daemon holds at most");
ABSL_FLAG(int, max_tunnels_per_identity, 1024,
          "tunnels per peer identity at most (client and gateway role)");
ABSL_FLAG(std::string, snap_token_file, "",
          "SNAP control-plane token (0600); re-read when it changes");
ABSL_FLAG(std::string, tls_cert_file, "", "PEM certificate for the gRPC API");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key (0600)");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA bundle; when set, clients must present a certificate (mTLS)");
ABSL_FLAG(std::string, api_token_file, "",
          "bearer token (0600) every API call must carry; empty = none");
ABSL_FLAG(int, handshakes_per_source, 20,
          "handshakes per second from one source address before the gateway "
          "asks for cookies");
ABSL_FLAG(int, handshakes_per_source_max, 100,
          "handshakes per second from one source address beyond which the "
          "gateway drops them (even with cookies)");
ABSL_FLAG(int, handshakes_total, 1000,
          "handshakes per second in total before everyone needs cookies");
ABSL_FLAG(std::vector<std::string>, control_plane_plain_http_hosts, {},
          "hosts (comma-separated, as written in control_plane_url) that may "
          "be called over plain http://; every other control plane must be "
          "https://, since each call carries the SNAP token");
ABSL_FLAG(std::string, control_plane_ca_file, "",
          "PEM CA bundle that verifies https:// control planes; empty uses "
          "the system bundle (/etc/ssl/certs/ca-certificates.crt)");
ABSL_FLAG(absl::Duration, lame_duck, absl::ZeroDuration(),
          "on SIGTERM, report not ready (/readyz 503, gRPC health "
          "NOT_SERVING) for this long while still serving, then drain; a "
          "second signal ends the wait");
ABSL_FLAG(int, control_plane_max_response_kib, 1024,
          "largest control-plane answer accepted, in KiB");
ABSL_FLAG(int, queue_kib_per_tunnel, 2048,
          "bytes (KiB) of packets one tunnel may queue in each direction "
          "(payloads plus a small per-packet charge); beyond it packets are "
          "dropped as receive_queue_full, or refused to the sender");
ABSL_FLAG(int, queue_budget_mib, 256,
          "bytes (MiB) of packets all tunnels together may queue; size it "
          "below the container's memory limit");
ABSL_FLAG(int, max_identities, 1000000,
          "authorized identities a gateway holds; AuthorizeIdentity of one "
          "more is refused with RESOURCE_EXHAUSTED");
ABSL_FLAG(int, max_watchers, 256,
          "WatchTunnels streams served at once; more are refused with "
          "RESOURCE_EXHAUSTED");
ABSL_FLAG(int, watcher_queue_kib, 1024,
          "bytes (KiB) of events one WatchTunnels stream may have queued; a "
          "watcher further behind is ended with RESOURCE_EXHAUSTED");
ABSL_FLAG(absl::Duration, grpc_keepalive_time, absl::Seconds(30),
          "the server pings each API connection this often");
ABSL_FLAG(absl::Duration, grpc_keepalive_timeout, absl::Seconds(10),
          "a connection whose peer does not answer a ping within this is "
          "closed, ending its streams");
ABSL_FLAG(absl::Duration, grpc_min_client_ping_interval, absl::Seconds(5),
          "client keepalive pings closer together than this count as abuse "
          "(clients pinging every 10 s are fine)");
ABSL_FLAG(int, grpc_max_receive_message_kib, 4096,
          "largest API message accepted (KiB), e.g. a PacketBatch sent to "
          "StreamPackets");
ABSL_FLAG(int, stream_batch_max_kib, 1024,
          "payload bytes (KiB) of one PacketBatch the server writes; keep it "
          "below the clients' receive limit (gRPC's default is 4 MiB)");
ABSL_FLAG(int, closed_tunnel_max, 1000,
          "closed tunnels remembered (GetTunnel/ListTunnels report them as "
          "CLOSED with their reason); 0 = none");
ABSL_FLAG(absl::Duration, closed_tunnel_retention, absl::Minutes(5),
          "how long a closed tunnel is remembered");
ABSL_FLAG(int, socket_receive_buffer_kib, 4096,
          "kernel receive buffer of each data-plane UDP socket (KiB); beyond "
          "net.core.rmem_max only with CAP_NET_ADMIN. Datagrams the kernel "
          "drops on a full buffer are counted as socket_overflow");
ABSL_FLAG(int, socket_send_buffer_kib, 4096,
          "kernel send buffer of each data-plane UDP socket (KiB)");
ABSL_FLAG(std::string, gateway_packet_policy, "none",
          "what the gateway checks in the packets its clients send: none, or "
          "scion (a SCION packet with a SCION or empty path whose source "
          "host address and L4 port are the tunnel's remote address; others "
          "are dropped as malformed_packet, invalid_path_type or "
          "invalid_source_address)");
ABSL_FLAG(std::string, gateway_ia_accounting, "",
          "comma-separated ISD-ASes (at most 64) whose gateway traffic is "
          "counted by name in snaptun_gateway_ia_packets_total; others are "
          "counted as ia=\"other\". Needs --gateway_packet_policy=scion");
ABSL_FLAG(bool, socket_gro, true,
          "UDP GRO on data-plane sockets: the kernel hands over runs of "
          "datagrams at once (faster), but counts a dropped run as one "
          "drop, so socket_overflow becomes an estimate; false makes it "
          "exact");
ABSL_FLAG(bool, keepalive_probes, true,
          "SNAP mode: a client tunnel's keepalives probe its gateway, which "
          "answers them, so a dead gateway is noticed within about 115 s "
          "(docs/PROTOCOL.md); turn off while gateways older than this "
          "release (which do not answer) are still in service");
ABSL_FLAG(bool, version, false, "print the version and exit");
ABSL_FLAG(bool, self_check, false,
          "start on loopback with a throwaway key, carry one packet through a "
          "tunnel to the daemon's own gateway, and exit 0 if it arrived");

namespace {

// Threads started before main (gRPC's) may take a signal, so the handler
// only writes the signal number to a pipe that main reads.
int signal_pipe[2] = {-1, -1};

void OnSignal(int number) {
  const char byte = static_cast<char>(number);
  [[maybe_unused]] ssize_t n = write(signal_pipe[1], &byte, 1);
}

// Waits up to `limit` for another signal on the pipe.
void WaitForSignal(absl::Duration limit) {
  const absl::Time deadline = absl::Now() + limit;
  while (true) {
    const int64_t left_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left_ms <= 0) return;
    pollfd pipe_end{signal_pipe[0], POLLIN, 0};
    const int ready =
        poll(&pipe_end, 1, static_cast<int>(std::min<int64_t>(left_ms, 1000)));
    if (ready > 0) {
      char number = 0;
      if (read(signal_pipe[0], &number, 1) == 1) {
        std::cerr << "snaptund: signal " << static_cast<int>(number)
                  << ": lame duck cut short\n";
        return;
      }
    }
  }
}

// The listen addresses, the gateway mode, the key, workers and tunnel
// limits, build information, TLS and tokens.
absl::Status ReadRoleFlags(snaptun::service::DaemonConfig& config) {
  config.grpc_listen = absl::GetFlag(FLAGS_grpc_listen);
  config.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  config.gateway_listen = absl::GetFlag(FLAGS_gateway_listen);
  const std::string mode = absl::GetFlag(FLAGS_gateway_mode);
  if (mode == "wireguard") {
    config.gateway_mode = snaptun::core::Mode::kWireGuard;
  } else if (mode != "snap") {
    return absl::InvalidArgumentError(
        "--gateway_mode must be snap or wireguard");
  }
  config.private_key_file = absl::GetFlag(FLAGS_private_key_file);
  const int workers = absl::GetFlag(FLAGS_workers);
  const int max_tunnels = absl::GetFlag(FLAGS_max_tunnels);
  const int per_identity = absl::GetFlag(FLAGS_max_tunnels_per_identity);
  if (workers < 0 || max_tunnels <= 0 || per_identity <= 0) {
    return absl::InvalidArgumentError("--workers must be >= 0, the limits > 0");
  }
  config.workers = workers > 0 ? static_cast<size_t>(workers)
                               : snaptun::service::DefaultWorkers();
  config.max_tunnels = static_cast<size_t>(max_tunnels);
  config.build_version = snaptun::service::kSnaptunVersion;
  config.build_revision = snaptun::service::BuildRevision();
  config.max_tunnels_per_identity = static_cast<size_t>(per_identity);
  config.snap_token_file = absl::GetFlag(FLAGS_snap_token_file);
  config.tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  config.tls_key_file = absl::GetFlag(FLAGS_tls_key_file);
  config.tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file);
  config.api_token_file = absl::GetFlag(FLAGS_api_token_file);
  config.control_plane_plain_http_hosts =
      absl::GetFlag(FLAGS_control_plane_plain_http_hosts);
  config.control_plane_ca_file = absl::GetFlag(FLAGS_control_plane_ca_file);
  return absl::OkStatus();
}

// What the control plane may answer, queues, watchers and identities.
absl::Status ReadQueueFlags(snaptun::service::DaemonConfig& config) {
  const int max_response_kib =
      absl::GetFlag(FLAGS_control_plane_max_response_kib);
  if (max_response_kib <= 0) {
    return absl::InvalidArgumentError(
        "--control_plane_max_response_kib must be > 0");
  }
  config.control_plane_max_response_bytes =
      static_cast<size_t>(max_response_kib) * 1024;
  const int queue_kib = absl::GetFlag(FLAGS_queue_kib_per_tunnel);
  const int budget_mib = absl::GetFlag(FLAGS_queue_budget_mib);
  if (queue_kib <= 0 || budget_mib <= 0) {
    return absl::InvalidArgumentError(
        "--queue_kib_per_tunnel and --queue_budget_mib must be > 0");
  }
  config.queue_bytes_per_tunnel = static_cast<size_t>(queue_kib) * 1024;
  config.queue_budget_bytes = static_cast<size_t>(budget_mib) << 20;
  const int max_watchers = absl::GetFlag(FLAGS_max_watchers);
  const int watcher_kib = absl::GetFlag(FLAGS_watcher_queue_kib);
  if (max_watchers <= 0 || watcher_kib <= 0) {
    return absl::InvalidArgumentError(
        "--max_watchers and --watcher_queue_kib must be > 0");
  }
  config.max_watchers = static_cast<size_t>(max_watchers);
  config.watcher_queue_bytes = static_cast<size_t>(watcher_kib) * 1024;
  const int max_identities = absl::GetFlag(FLAGS_max_identities);
  if (max_identities <= 0) {
    return absl::InvalidArgumentError("--max_identities must be > 0");
  }
  config.max_identities = static_cast<size_t>(max_identities);
  return absl::OkStatus();
}

// gRPC keepalive and message sizes, stream batches, closed tunnels.
absl::Status ReadGrpcFlags(snaptun::service::DaemonConfig& config) {
  config.grpc_keepalive_time = absl::GetFlag(FLAGS_grpc_keepalive_time);
  config.grpc_keepalive_timeout = absl::GetFlag(FLAGS_grpc_keepalive_timeout);
  config.grpc_min_client_ping_interval =
      absl::GetFlag(FLAGS_grpc_min_client_ping_interval);
  const int max_receive_kib = absl::GetFlag(FLAGS_grpc_max_receive_message_kib);
  const int batch_kib = absl::GetFlag(FLAGS_stream_batch_max_kib);
  if (config.grpc_keepalive_time <= absl::ZeroDuration() ||
      config.grpc_keepalive_timeout <= absl::ZeroDuration() ||
      config.grpc_min_client_ping_interval <= absl::ZeroDuration() ||
      max_receive_kib <= 0 || max_receive_kib > (1 << 21) || batch_kib <= 0) {
    return absl::InvalidArgumentError(
        "the --grpc_* durations and sizes and --stream_batch_max_kib must be "
        "positive");
  }
  config.grpc_max_receive_message_bytes =
      static_cast<size_t>(max_receive_kib) * 1024;
  config.stream_batch_max_bytes = static_cast<size_t>(batch_kib) * 1024;
  const int closed_max = absl::GetFlag(FLAGS_closed_tunnel_max);
  config.closed_tunnel_retention = absl::GetFlag(FLAGS_closed_tunnel_retention);
  if (closed_max < 0 || config.closed_tunnel_retention < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--closed_tunnel_max and --closed_tunnel_retention must not be "
        "negative");
  }
  config.closed_tunnel_max = static_cast<size_t>(closed_max);
  return absl::OkStatus();
}

// Socket buffers, the gateway packet policy, probes, handshake limits.
absl::Status ReadSocketAndPolicyFlags(snaptun::service::DaemonConfig& config) {
  const int receive_kib = absl::GetFlag(FLAGS_socket_receive_buffer_kib);
  const int send_kib = absl::GetFlag(FLAGS_socket_send_buffer_kib);
  if (receive_kib <= 0 || send_kib <= 0 || receive_kib > (1 << 20) ||
      send_kib > (1 << 20)) {
    return absl::InvalidArgumentError(
        "socket buffer sizes must be 1 KiB to 1 GiB");
  }
  config.socket.receive_buffer_bytes = receive_kib * 1024;
  config.socket.send_buffer_bytes = send_kib * 1024;
  config.socket.gro = absl::GetFlag(FLAGS_socket_gro);
  absl::StatusOr<snaptun::service::PacketPolicyKind> policy =
      snaptun::service::ParsePacketPolicyKind(
          absl::GetFlag(FLAGS_gateway_packet_policy));
  absl::StatusOr<std::vector<snaptun::scion::IsdAs>> accounted =
      snaptun::service::ParseAccountedIas(
          absl::GetFlag(FLAGS_gateway_ia_accounting));
  for (const absl::Status& s : {policy.status(), accounted.status()}) {
    if (!s.ok()) return s;
  }
  config.gateway_packet_policy = *policy;
  config.gateway_ia_accounting = std::move(*accounted);
  config.keepalive_probes = absl::GetFlag(FLAGS_keepalive_probes);
  const int per_source = absl::GetFlag(FLAGS_handshakes_per_source);
  const int per_source_max = absl::GetFlag(FLAGS_handshakes_per_source_max);
  const int total = absl::GetFlag(FLAGS_handshakes_total);
  if (per_source <= 0 || per_source_max < per_source || total <= 0) {
    return absl::InvalidArgumentError(
        "handshake limits must be positive, and --handshakes_per_source_max >= "
        "--handshakes_per_source");
  }
  config.handshake_limits.per_source_soft = static_cast<uint32_t>(per_source);
  config.handshake_limits.per_source_hard =
      static_cast<uint32_t>(per_source_max);
  config.handshake_limits.global_soft = static_cast<uint32_t>(total);

  return absl::OkStatus();
}

absl::StatusOr<snaptun::service::DaemonConfig> ConfigFromFlags() {
  snaptun::service::DaemonConfig config;
  for (auto read : {ReadRoleFlags, ReadQueueFlags, ReadGrpcFlags,
                    ReadSocketAndPolicyFlags}) {
    if (absl::Status s = read(config); !s.ok()) return s;
  }
  return config;
}

// Starts the daemon, serves until a signal, then the lame duck and drain.
int Serve(const snaptun::service::DaemonConfig& config,
          absl::Duration lame_duck) {
  if (pipe(signal_pipe) != 0) return 1;
  signal(SIGPIPE, SIG_IGN);
  // The process holds the private key and tokens: no core dumps, and no
  // ptrace attach by other processes of the same user.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

  absl::StatusOr<std::unique_ptr<snaptun::service::Daemon>> daemon =
      snaptun::service::Daemon::Start(config);
  if (!daemon.ok()) {
    std::cerr << "snaptund: " << daemon.status().message() << "\n";
    return 1;
  }
  // Installed after start-up: a library may have set its own handlers.
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  // SIGHUP (a closed terminal, or an operator's reflex) drains like SIGTERM
  // instead of killing the process mid-flight.
  sigaction(SIGHUP, &action, nullptr);
  std::cerr << "snaptund: ready\n";
  char signal_number = 0;
  while (read(signal_pipe[0], &signal_number, 1) < 0 && errno == EINTR) {
  }
  std::cerr << "snaptund: signal " << static_cast<int>(signal_number) << "\n";
  if (lame_duck > absl::ZeroDuration()) {
    (*daemon)->EnterLameDuck();
    std::cerr << "snaptund: lame duck for " << lame_duck
              << " (not ready, still serving)\n";
    WaitForSignal(lame_duck);
  }
  (*daemon)->Drain();
  daemon->reset();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "snaptund hosts SNAP tunnels as managed sessions, driven over gRPC.");
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_version)) {
    std::cout << "snaptund " << snaptun::service::kSnaptunVersion
              << " (snaptun.v1) revision " << snaptun::service::BuildRevision()
              << "\n";
    return 0;
  }
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  if (absl::GetFlag(FLAGS_self_check)) return snaptun::service::SelfCheck();
  const absl::StatusOr<snaptun::service::DaemonConfig> config =
      ConfigFromFlags();
  const absl::Duration lame_duck = absl::GetFlag(FLAGS_lame_duck);
  if (!config.ok() || lame_duck < absl::ZeroDuration()) {
    std::cerr << "snaptund: "
              << (config.ok() ? "--lame_duck must not be negative"
                              : config.status().message())
              << "\n";
    return 2;
  }
  std::cerr << "snaptund: " << config->workers << " data-plane workers\n";
  return Serve(*config, lame_duck);
}
