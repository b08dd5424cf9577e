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
// The tunnel lives on one worker. It keeps itself alive until Close().
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
#include "service/packet_pump.h"
#include "service/read_pause.h"
#include "service/socket_error_watch.h"
#include "service/tunnel_lifecycle.h"
#include "service/tunnel_port.h"
#include "service/worker.h"
#include "tunnel/core/identity.h"
#include "tunnel/core/peer.h"
#include "tunnel/io/datagram_channel.h"
#include "tunnel/io/receive_control.h"
#include "tunnel/io/udp_socket.h"

namespace snaptun::service {

struct ClientTunnelConfig {
  crypto::PublicKey peer_public_key{};
  core::Endpoint data_plane;
  core::Mode mode = core::Mode::kSnap;
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration persistent_keepalive = absl::Seconds(10);
  // Sent data and no reply for this long: re-handshake (WireGuard's 15 s).
  absl::Duration no_reply_timeout = core::kNewHandshakeTimeout;
  // SNAP mode: keepalives probe the gateway's liveness (PeerConfig).
  bool keepalive_probes = true;
  // The port's queues, in packets and bytes, and the shared budget.
  PortLimits port;
  // Kernel socket buffers asked for, and UDP GRO (see GatewayConfig).
  io::UdpSocketOptions socket;
  // Where each attempt's connected channel comes from; null: real UDP
  // (io::UdpNetwork). Outlives the tunnel.
  io::DatagramNetwork* network = nullptr;
  BackoffPolicy reconnect_backoff;
  // Optional; outlives the tunnel.
  DataPlaneMetrics* metrics = nullptr;
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

class ClientTunnel : public std::enable_shared_from_this<ClientTunnel>,
                     private PumpRole {
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
  // Through Open, which gives the tunnel its port before it is shared.
  ClientTunnel(Worker& worker, const core::LocalIdentity& local,
               const ClientTunnelConfig& config, EventCallback on_event,
               ConnectCallback on_connect);
  // The tunnel's port, whose send wake drains it on the worker.
  std::shared_ptr<TunnelPort> MakePort();
  void Start();
  // Ends the tunnel; a connect still pending fails with `connect_failure`
  // (CANCELLED when absent), after the state and gauges moved.
  void Shutdown(const std::string& reason,
                std::optional<absl::Status> connect_failure = std::nullopt);
  void StartAttempt();
  // `count_failure`: the protocol has not already reported this timeout.
  void OnAttemptTimeout(bool count_failure);
  // Moves the state and the tunnels gauge together; returns the old state.
  ClientState MoveTo(ClientState to);
  io::UdpSocketOptions SocketOptions() const;
  void CountDrop(core::DropReason reason, uint64_t count = 1);
  // Payloads sealed and handed to the sender (tx).
  void CountSent(uint64_t packets, uint64_t bytes);
  void OnReadable();
  void OnTimer();
  void DrainOutbound();
  // The pump's questions (packet_pump.h): one channel, one peer, one port.
  io::DatagramChannel* channel() override { return channel_.get(); }
  // A datagram on the connected socket: classified, opened by the peer.
  void OnDatagram(absl::Time now, absl::Span<uint8_t> datagram,
                  const core::Endpoint& from) override;
  // Sealed by the peer (queued while it has no session).
  core::SendResult Seal(absl::Time now, const core::Endpoint& to,
                        const Packet& payload,
                        absl::Span<uint8_t> datagram) override;
  // Reported when persistent, then reading pauses (ReadFailed).
  void ReceiveFailed(int error) override;
  // Resets the read pause and the receive error run.
  void ReceiveSucceeded(const io::ReceiveStats& stats) override;
  // The role's rx metrics.
  void Received(uint64_t packets, uint64_t bytes) override;
  // CountSent: the port's and the role's tx.
  void Sent(TunnelPort& port, const Packet& payload) override;
  // CountDrop: every drop is the tunnel's own.
  void Dropped(TunnelPort* port, core::DropReason reason,
               uint64_t count) override;
  void HandlePeerEvent(const core::PeerEvent& event);
  void OnHandshakeCompleted(const core::PeerEvent& event);
  // The peer expired its session: retry the attempt, or lose the session.
  void OnSessionExpired();
  // The address the gateway saw (SNAP) or the socket's own (WireGuard).
  std::optional<core::Endpoint> SeenAddress();
  void LoseSession(const std::string& reason);
  void Apply() override;
  void Reschedule();
  void Emit(ClientEvent event);
  // Opens (or replaces) the connected channel and watches it.
  absl::Status OpenSocket();
  // Unwatches and closes the channel, if open.
  void CloseSocket();
  absl::Status WatchSocket();
  // Stops reading for the read pause's next interval, then watches again.
  void PauseReading();
  // A read failed with `error`: counted, reported when it persists, and
  // reading pauses (read_pause.h).
  void ReadFailed(int error);
  // The next attempt, after the reconnect backoff's next delay.
  void RetryAfterBackoff();
  // Counts a flush's drops by cause; persistent failures become an event.
  void Flushed(const io::FlushStats& stats);
  void Finish(absl::StatusOr<core::Endpoint> result);

  Worker& worker_;
  const core::LocalIdentity& local_;
  const ClientTunnelConfig config_;
  // Every attempt's peer shares it.
  const std::shared_ptr<const core::PeerConfig> peer_config_;
  const EventCallback on_event_;
  ConnectCallback on_connect_;
  PacketPump pump_;
  std::shared_ptr<TunnelPort> port_;
  RoleMetrics* const metrics_;  // Null without metrics.
  std::atomic<ClientState> state_{ClientState::kConnecting};

  // Loop-thread state.
  std::unique_ptr<io::DatagramChannel> channel_;
  io::KernelDropCounter kernel_drops_;
  std::unique_ptr<core::Peer> peer_;
  core::PeerOutput out_;
  Backoff backoff_;
  SocketErrorWatch send_errors_;
  SocketErrorWatch receive_errors_;
  ReadPause read_pause_;
  io::EventLoop::TimerId peer_timer_ = 0;
  absl::Time peer_timer_at_ = absl::InfiniteFuture();
  io::EventLoop::TimerId attempt_timer_ = 0;
  io::EventLoop::TimerId retry_timer_ = 0;
  // Holds the tunnel alive while it runs; released by Shutdown.
  std::shared_ptr<ClientTunnel> self_;

  mutable absl::Mutex mu_;
  std::optional<core::Endpoint> local_address_ ABSL_GUARDED_BY(mu_);
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_CLIENT_TUNNEL_H_
