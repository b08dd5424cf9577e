// The client role's driver for one tunnel, on its worker: its own connected
// channel to the data plane, the protocol Peer, timers, and the tunnel's
// lifecycle (client_tunnel.h says what it does). A resident of the worker
// (residents.h), which owns it from Start until it shuts down and retires;
// every timer, readiness handler and port wake reaches it by its id, so one
// that fires after it retired does nothing. It writes the state and the
// seen address into its ClientTunnel, which other threads read.
//
// Threads: the worker's loop thread only, but for construction, and a
// Shutdown on the opener's thread when the worker had already stopped.
#ifndef SNAPTUN_SERVICE_CLIENT_DRIVER_H_
#define SNAPTUN_SERVICE_CLIENT_DRIVER_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "service/backoff.h"
#include "service/client_tunnel.h"
#include "service/dataplane_metrics.h"
#include "service/packet_pump.h"
#include "service/read_pause.h"
#include "service/residents.h"
#include "service/role_traffic.h"
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

class ClientDriver final : public Resident,
                           private PumpRole,
                           private RoleTraffic::Owner {
 public:
  ClientDriver(std::shared_ptr<ClientTunnel> tunnel,
               const core::LocalIdentity& local,
               ClientTunnel::EventCallback on_event,
               ClientTunnel::ConnectCallback on_connect);
  // Hands the port's counts to the role: the tunnel's count is done.
  ~ClientDriver() override;

  // The port of the tunnel that resident `id` of `worker` drives: its send
  // wake drains it on the worker.
  static std::shared_ptr<TunnelPort> MakePort(Worker& worker, ResidentId id,
                                              const ClientTunnelConfig& config);
  // Opens the channel and starts the first attempt, as a resident.
  void Start();
  // Ends the tunnel and retires; a connect still pending fails with
  // `connect_failure` (CANCELLED when absent), after the state and gauges
  // moved.
  void Shutdown(const std::string& reason,
                std::optional<absl::Status> connect_failure = std::nullopt);

 private:
  using EventCallback = ClientTunnel::EventCallback;
  using ConnectCallback = ClientTunnel::ConnectCallback;

  ClientState state() const { return tunnel_->state(); }
  void StartAttempt();
  // `count_failure`: the protocol has not already reported this timeout.
  void OnAttemptTimeout(bool count_failure);
  // Moves the state and the tunnels gauge together; returns the old state.
  ClientState MoveTo(ClientState to);
  io::UdpSocketOptions SocketOptions() const;
  void CountDrop(core::DropReason reason, uint64_t count = 1);
  // Payloads sealed and handed to the sender (tx), on the port.
  void CountSent(uint64_t packets, uint64_t bytes);
  void OnReadable();
  void OnTimer();
  // The attempt's timer: it timed out unanswered.
  void OnAttemptTimer() { OnAttemptTimeout(true); }
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
  // CountSent.
  void Sent(TunnelPort& port, const Packet& payload) override;
  // CountDrop: every drop is the tunnel's own.
  void Dropped(TunnelPort* port, core::DropReason reason,
               uint64_t count) override;
  // RoleTraffic::Owner: the port's counts, until the driver is destroyed.
  void AddLiveCounts(CountersSnapshot& total) const override;
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
  // The pause is over for the channel whose readiness fd is `fd`.
  void ResumeReading(int fd);
  // A read failed with `error`: counted, reported when it persists, and
  // reading pauses (read_pause.h).
  void ReadFailed(int error);
  // The next attempt, after the reconnect backoff's next delay.
  void RetryAfterBackoff();
  // Counts a flush's drops by cause; persistent failures become an event.
  void Flushed(const io::FlushStats& stats);
  void Finish(absl::StatusOr<core::Endpoint> result);

  // The tunnel this drives: its id, port, config, state and address.
  const std::shared_ptr<ClientTunnel> tunnel_;
  Worker& worker_;
  const ResidentId id_;
  const core::LocalIdentity& local_;
  const ClientTunnelConfig& config_;  // The tunnel's.
  // Every attempt's peer shares it.
  const std::shared_ptr<const core::PeerConfig> peer_config_;
  const EventCallback on_event_;
  ConnectCallback on_connect_;
  PacketPump pump_;
  TunnelPort& port_;            // The tunnel's.
  RoleMetrics* const metrics_;  // Null without metrics.
  // The role's share on this worker; null without metrics.
  const std::shared_ptr<RoleTraffic::Share> traffic_;

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
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_CLIENT_DRIVER_H_
