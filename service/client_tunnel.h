// The client role's driver for one tunnel: its own UDP socket connected to
// the data plane, the protocol Peer, and the tunnel's lifecycle. Connect
// succeeds when the handshake completes and reports the address the data
// plane observed (SNAP) or the socket's own address (WireGuard mode), or
// fails with DEADLINE_EXCEEDED after the caller's timeout (W32). Once
// established it keeps the tunnel alive (keepalive and rekey are the Peer's),
// and when the session is lost it reconnects with growing, jittered, capped
// backoff (W1), announcing RECONNECTING and, when the data plane now sees a
// different address, ADDRESS_CHANGED (W2). Every bad datagram is dropped and
// counted on its own; none aborts a batch or a connect (W3).
//
// The tunnel lives on one worker, which owns its driver (client_driver.h)
// until the tunnel closes; the ClientTunnel handed out here is what other
// threads hold and read.
#ifndef SNAPTUN_SERVICE_CLIENT_TUNNEL_H_
#define SNAPTUN_SERVICE_CLIENT_TUNNEL_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "service/backoff.h"
#include "service/dataplane_metrics.h"
#include "service/error_reason.h"
#include "service/residents.h"
#include "service/tunnel_lifecycle.h"
#include "service/tunnel_port.h"
#include "service/worker.h"
#include "tunnel/core/identity.h"
#include "tunnel/core/peer.h"
#include "tunnel/io/datagram_channel.h"
#include "tunnel/io/udp_socket.h"

namespace snaptun::service {

// What every client tunnel of a process shares: one immutable object, made
// once (the session manager makes it from SessionLimits::client) and held
// by each tunnel's config.
struct ClientRoleConfig {
  // The ports' queues, in packets and bytes, and the shared budget; a
  // tunnel may ask for its own receive queue (ClientTunnelConfig).
  PortLimits port;
  // Kernel socket buffers asked for, and UDP GRO (see GatewayConfig).
  io::UdpSocketOptions socket;
  // Where each attempt's connected channel comes from; null: real UDP
  // (io::UdpNetwork). Outlives the tunnels.
  io::DatagramNetwork* network = nullptr;
  // SNAP mode: keepalives probe the gateway's liveness (PeerConfig).
  bool keepalive_probes = true;
  BackoffPolicy reconnect_backoff;
  // Optional; outlives the tunnels.
  DataPlaneMetrics* metrics = nullptr;

  // The defaults, shared.
  static const std::shared_ptr<const ClientRoleConfig>& Default();
};

// One tunnel's own settings, and the role's.
struct ClientTunnelConfig {
  crypto::PublicKey peer_public_key{};
  core::Endpoint data_plane;
  core::Mode mode = core::Mode::kSnap;
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration persistent_keepalive = absl::Seconds(10);
  // Sent data and no reply for this long: re-handshake (WireGuard's 15 s).
  absl::Duration no_reply_timeout = core::kNewHandshakeTimeout;
  // The port's receive queue in packets; 0: the role's.
  size_t receive_packets = 0;
  // Null: the defaults.
  std::shared_ptr<const ClientRoleConfig> role = ClientRoleConfig::Default();

  // The role's port limits with this tunnel's receive queue.
  PortLimits Port() const;
};

// The client driver's state: the tunnel lifecycle's.
using ClientState = TunnelState;

// A lifecycle event of the tunnel (tunnel_lifecycle.h); the session layer
// announces kOpened itself, so a client tunnel never sends it. kEstablished
// and kRekeyed follow every completed handshake.
struct ClientEvent {
  TunnelEvent type;
  std::optional<core::Endpoint> address;  // kEstablished, kAddressChanged.
  std::string reason;            // kReconnecting, kClosed, kSocketErrors.
  core::PeerEvent peer_event{};  // The protocol event behind it, if any.
};

// The tunnel as other threads see it: its config, its port, its state and
// the address the data plane sees. Its ClientDriver, a resident of the
// worker, does the work and writes the state and address here.
class ClientTunnel {
 public:
  using ConnectCallback = std::function<void(absl::StatusOr<core::Endpoint>)>;
  // Lifecycle events arrive here, on the worker thread. Protocol events
  // (initiations, failures, cookies) are counted in the metrics.
  using EventCallback = std::function<void(const ClientEvent&)>;

  // Starts connecting on `worker`; `on_connect` runs once, on the worker.
  static std::shared_ptr<ClientTunnel> Open(Worker& worker,
                                            const core::LocalIdentity& local,
                                            const ClientTunnelConfig& config,
                                            EventCallback on_event,
                                            ConnectCallback on_connect);
  // Open and wait for the outcome (tests, tools). A failed connect leaves
  // nothing behind. The wait is also bounded in real time (the connect
  // timeout and a margin), whatever the worker's clock does.
  static absl::StatusOr<std::shared_ptr<ClientTunnel>> Connect(
      Worker& worker, const core::LocalIdentity& local,
      const ClientTunnelConfig& config, EventCallback on_event = nullptr);

  // Thread-safe. Ends the tunnel; the port closes.
  void Close(const std::string& reason = "closed");

  const std::shared_ptr<TunnelPort>& port() const { return port_; }
  ClientState state() const { return state_.load(); }
  // The address the data plane sees for this tunnel (updated on change).
  std::optional<core::Endpoint> local_address() const;
  const ClientTunnelConfig& config() const { return config_; }
  Worker& worker() { return worker_; }

 private:
  friend class ClientDriver;
  ClientTunnel(Worker& worker, ResidentId id, const ClientTunnelConfig& config)
      : worker_(worker), id_(id), config_(config) {}

  Worker& worker_;
  // The driver's id on worker_.
  const ResidentId id_;
  const ClientTunnelConfig config_;
  // Set by Open before the tunnel is shared.
  std::shared_ptr<TunnelPort> port_;
  std::atomic<ClientState> state_{ClientState::kConnecting};
  mutable absl::Mutex mu_;
  std::optional<core::Endpoint> local_address_ ABSL_GUARDED_BY(mu_);
  // Close's reason, for a driver that had not started when it was asked.
  std::optional<std::string> close_requested_ ABSL_GUARDED_BY(mu_);
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_CLIENT_TUNNEL_H_
