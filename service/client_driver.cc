// Connect, keep alive, reconnect; all on the owning worker's thread.
#include "service/client_driver.h"

#include <sys/epoll.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "tunnel/core/messages.h"
#include "tunnel/io/udp_channel.h"

namespace snaptun::service {
namespace {

// Payloads held by the protocol while a handshake is in flight.
constexpr size_t kHandshakeQueue = 128;

std::shared_ptr<const core::PeerConfig> PeerConfigOf(
    const ClientTunnelConfig& config) {
  core::PeerConfig peer;
  peer.mode = config.mode;
  peer.persistent_keepalive = config.persistent_keepalive;
  peer.queue_capacity = kHandshakeQueue;
  peer.no_reply_timeout = config.no_reply_timeout;
  peer.keepalive_probes = config.role->keepalive_probes;
  return std::make_shared<const core::PeerConfig>(peer);
}

}  // namespace

ClientDriver::ClientDriver(std::shared_ptr<ClientTunnel> tunnel,
                           const core::LocalIdentity& local,
                           EventCallback on_event, ConnectCallback on_connect)
    : tunnel_(std::move(tunnel)),
      worker_(tunnel_->worker_),
      id_(tunnel_->id_),
      local_(local),
      config_(tunnel_->config_),
      peer_config_(PeerConfigOf(config_)),
      on_event_(std::move(on_event)),
      on_connect_(std::move(on_connect)),
      pump_(worker_, config_.mode, *this),
      port_(*tunnel_->port_),
      metrics_(config_.role->metrics == nullptr
                   ? nullptr
                   : &config_.role->metrics->role(Role::kClient)),
      traffic_(metrics_ == nullptr ? nullptr
                                   : metrics_->traffic.ShareOn(worker_)),
      backoff_(config_.role->reconnect_backoff) {
  if (metrics_ != nullptr) {
    metrics_->tunnels_in(TunnelGaugeState::kConnecting).Increment();
  }
}

// On the worker, after the task that retired the driver: the port's counts
// go to the role as it leaves. The port is closed by then (Shutdown), so a
// stream's later refusal counts for the role (TunnelPort::CountDrop).
ClientDriver::~ClientDriver() {
  port_.Close();  // Already, unless the worker stopped before Shutdown.
  if (traffic_ != nullptr) traffic_->Leave(this);
}

std::shared_ptr<TunnelPort> ClientDriver::MakePort(
    Worker& worker, ResidentId id, const ClientTunnelConfig& config) {
  // A payload sent wakes the worker to drain the port, once per burst.
  Worker* on = &worker;
  auto wake = [on, id](const core::Endpoint&) {
    on->RunOn<ClientDriver>(
        id, [](ClientDriver& driver) { driver.DrainOutbound(); });
  };
  return std::make_shared<TunnelPort>(
      PortContext::Make(config.Port(), std::move(wake)), config.data_plane);
}

ClientState ClientDriver::MoveTo(ClientState to) {
  const ClientState from = tunnel_->state_.exchange(to);
  if (metrics_ != nullptr && from != to) {
    if (Gauged(from)) metrics_->tunnels_in(from).Decrement();
    if (Gauged(to)) metrics_->tunnels_in(to).Increment();
  }
  return from;
}

io::UdpSocketOptions ClientDriver::SocketOptions() const {
  io::UdpSocketOptions options = config_.role->socket;
  options.reuse_port = false;
  return options;
}

void ClientDriver::CountSent(uint64_t packets, uint64_t bytes) {
  port_.counters().Sent(packets, bytes);
}

void ClientDriver::CountDrop(core::DropReason reason, uint64_t count) {
  if (count == 0 || reason == core::DropReason::kNone) return;
  port_.counters().Drop(reason, count);
}

absl::Status ClientDriver::OpenSocket() {
  absl::StatusOr<std::unique_ptr<io::DatagramChannel>> channel =
      io::UdpNetwork::Or(config_.role->network)
          .Connect(config_.data_plane, SocketOptions());
  if (!channel.ok()) return channel.status();
  CloseSocket();
  channel_ = std::move(*channel);
  kernel_drops_ = io::KernelDropCounter();
  if (metrics_ != nullptr) {
    metrics_->SocketBuffers(config_.role->socket.receive_buffer_bytes,
                            channel_->receive_buffer_bytes(),
                            config_.role->socket.send_buffer_bytes,
                            channel_->send_buffer_bytes());
  }
  return WatchSocket();
}

void ClientDriver::CloseSocket() {
  if (channel_ == nullptr) return;
  worker_.loop().Unwatch(channel_->readiness_fd());
  channel_.reset();
}

absl::Status ClientDriver::WatchSocket() {
  return worker_.loop().Watch(
      channel_->readiness_fd(), EPOLLIN,
      [readable = worker_.Calls(id_, &ClientDriver::OnReadable)](uint32_t) {
        readable();
      });
}

void ClientDriver::ReadFailed(int error) {
  if (metrics_ != nullptr)
    metrics_->receive_errors->Increment(1, worker_.index());
  const absl::Time now = worker_.loop().clock().Now();
  if (std::optional<std::string> reason =
          receive_errors_.Failed(now, "receives", error, 0)) {
    Emit({TunnelEvent::kSocketErrors, std::nullopt, *reason, {}});
  }
  // Stop reading for a while: the error would wake the loop at once.
  PauseReading();
}

void ClientDriver::PauseReading() {
  // The error's event may have closed the tunnel.
  if (channel_ == nullptr || state() == ClientState::kClosed) return;
  const int fd = channel_->readiness_fd();
  worker_.loop().Unwatch(fd);
  const absl::Time now = worker_.loop().clock().Now();
  worker_.loop().RunAt(
      now + read_pause_.Failed(),
      [resume = worker_.Calls(id_, &ClientDriver::ResumeReading), fd] {
        resume(fd);
      });
}

void ClientDriver::ResumeReading(int fd) {
  if (channel_ == nullptr || channel_->readiness_fd() != fd ||
      state() == ClientState::kClosed) {
    return;
  }
  // epoll refused the socket (no memory, or its watch limit): counted as a
  // receive error, and tried again after a longer pause, so the tunnel
  // never goes deaf for good.
  // AlreadyExists: the fd number now belongs to a newer socket, which
  // OpenSocket has watched already.
  if (absl::Status watched = WatchSocket();
      !watched.ok() && !absl::IsAlreadyExists(watched)) {
    if (metrics_ != nullptr) {
      metrics_->receive_errors->Increment(1, worker_.index());
    }
    PauseReading();
  }
}

void ClientDriver::Start() {
  if (state() == ClientState::kClosed) return;
  std::optional<std::string> closed;
  {
    absl::MutexLock lock(&tunnel_->mu_);
    closed = tunnel_->close_requested_;
  }
  if (closed.has_value()) {
    Shutdown(*closed);
    return;
  }
  if (traffic_ != nullptr) traffic_->Join(this);
  if (absl::Status opened = OpenSocket(); !opened.ok()) {
    Shutdown(std::string(opened.message()), opened);
    return;
  }
  StartAttempt();
}

void ClientDriver::StartAttempt() {
  retry_timer_ = 0;
  if (state() == ClientState::kClosed) return;
  if (state() == ClientState::kReconnecting) {
    // A fresh socket for each reconnect: a connected socket keeps the
    // source address chosen when it connected, so after an interface or
    // address change only a new one reaches the gateway again (W33). If
    // none can be opened now (no route yet), this attempt fails and the
    // next one, after the backoff, tries again.
    if (absl::Status opened = OpenSocket(); !opened.ok()) {
      Emit({TunnelEvent::kSocketErrors,
            std::nullopt,
            absl::StrCat("cannot open a socket to reconnect: ",
                         opened.message()),
            {}});
      peer_.reset();
      RetryAfterBackoff();
      return;
    }
  }
  peer_ = std::make_unique<core::Peer>(local_, config_.peer_public_key,
                                       peer_config_, worker_.rng());
  peer_timer_at_ = absl::InfiniteFuture();
  const absl::Time now = worker_.loop().clock().Now();
  peer_->Connect(now, out_);
  attempt_timer_ =
      worker_.loop().RunAt(now + config_.connect_timeout,
                           worker_.Calls(id_, &ClientDriver::OnAttemptTimer));
  Apply();
}

void ClientDriver::OnAttemptTimeout(bool count_failure) {
  attempt_timer_ = 0;
  const ClientState current = state();
  if (count_failure && metrics_ != nullptr &&
      (current == ClientState::kConnecting ||
       current == ClientState::kReconnecting)) {
    metrics_->Fail(core::HandshakeFailure::kTimeout, worker_.index());
  }
  if (current == ClientState::kConnecting) {
    Shutdown(
        "connect timeout",
        WithReason(absl::DeadlineExceededError(absl::StrCat(
                       "the handshake with ", config_.data_plane.ToString(),
                       " did not complete within ",
                       absl::FormatDuration(config_.connect_timeout),
                       "; is this identity authorized at the gateway?")),
                   reason::kHandshakeTimeout));
    return;
  }
  if (current != ClientState::kReconnecting) return;
  // This attempt failed: wait longer each time before the next.
  if (peer_ != nullptr) {
    CountDrop(core::DropReason::kNoTunnel, peer_->queued());
  }
  peer_.reset();
  RetryAfterBackoff();
}

void ClientDriver::RetryAfterBackoff() {
  Reschedule();
  const absl::Duration delay = backoff_.Next(worker_.rng());
  retry_timer_ =
      worker_.loop().RunAt(worker_.loop().clock().Now() + delay,
                           worker_.Calls(id_, &ClientDriver::StartAttempt));
}

void ClientDriver::OnReadable() { pump_.Receive(kernel_drops_); }

void ClientDriver::OnDatagram(absl::Time now, absl::Span<uint8_t> datagram,
                              const core::Endpoint& from) {
  const std::optional<core::MessageType> type =
      core::Classify(datagram, config_.mode);
  if (!type.has_value()) {
    CountDrop(core::DropReason::kInvalidPacket);
    return;
  }
  if (peer_ == nullptr) {
    CountDrop(core::DropReason::kNoTunnel);
    return;
  }
  const core::ReceiveResult result =
      peer_->Receive(now, *type, datagram, from, out_);
  if (result.kind == core::ReceiveResult::Kind::kData) {
    pump_.Deliver(port_, result.payload);
  } else if (result.kind == core::ReceiveResult::Kind::kDropped) {
    CountDrop(result.drop);
  }
}

core::SendResult ClientDriver::Seal(absl::Time now, const core::Endpoint&,
                                    const Packet& payload,
                                    absl::Span<uint8_t> datagram) {
  if (peer_ == nullptr) {
    return {core::SendOutcome::kDropped, core::DropReason::kNoTunnel};
  }
  return peer_->Send(now, payload, datagram, out_);
}

void ClientDriver::ReceiveSucceeded(const io::ReceiveStats&) {
  read_pause_.Succeeded();
  receive_errors_.Succeeded();
}

void ClientDriver::ReceiveFailed(int error) { ReadFailed(error); }

void ClientDriver::Sent(TunnelPort&, const Packet& payload) {
  CountSent(1, payload.size());
}

// Every drop of a client tunnel is its port's (the socket is its own).
void ClientDriver::Dropped(TunnelPort*, core::DropReason reason,
                           uint64_t count) {
  CountDrop(reason, count);
}

void ClientDriver::AddLiveCounts(CountersSnapshot& total) const {
  port_.counters().AddTo(total);
}

void ClientDriver::OnTimer() {
  peer_timer_ = 0;
  peer_timer_at_ = absl::InfiniteFuture();
  if (peer_ == nullptr) return;
  const absl::Time now = worker_.loop().clock().Now();
  peer_->OnTimer(now, out_);
  Apply();
  if (state() == ClientState::kEstablished && peer_ != nullptr &&
      peer_->Dead(now)) {
    LoseSession("session expired");
  }
}

void ClientDriver::DrainOutbound() {
  if (!pump_.Drain(port_, config_.data_plane)) return;
  worker_.RunOn<ClientDriver>(
      id_, [](ClientDriver& driver) { driver.DrainOutbound(); });
}

void ClientDriver::Apply() {
  io::BatchSender& sender = worker_.sender();
  std::vector<std::vector<uint8_t>> datagrams = std::move(out_.to_network);
  std::vector<core::PeerEvent> events = std::move(out_.events);
  for (size_t i = 0; i < core::kDropReasonCount; ++i) {
    if (out_.drops[i] != 0) {
      CountDrop(static_cast<core::DropReason>(i), out_.drops[i]);
    }
  }
  if (out_.flushed_packets != 0)
    CountSent(out_.flushed_packets, out_.flushed_bytes);
  out_.Clear();
  // A handler may close the channel (an event's callback closing the
  // tunnel), so each flush asks for it again.
  for (const std::vector<uint8_t>& datagram : datagrams) {
    if (sender.full()) Flushed(io::FlushOrDrop(channel_.get(), sender));
    sender.Queue(config_.data_plane, datagram);
  }
  if (!sender.empty()) Flushed(io::FlushOrDrop(channel_.get(), sender));
  for (const core::PeerEvent& event : events) HandlePeerEvent(event);
  Reschedule();
}

void ClientDriver::Flushed(const io::FlushStats& stats) {
  stats.ForEachDrop([this](core::DropReason reason, size_t count) {
    CountDrop(reason, count);
  });
  if (state() == ClientState::kClosed) return;  // Its channel is gone.
  // A flush that got anything through is not a failing socket: its drops
  // are counted, but only flushes where every send failed make a run.
  if (stats.sent > 0) send_errors_.Succeeded();
  if (stats.dropped == 0 || stats.sent > 0) return;
  std::optional<std::string> reason = send_errors_.Failed(
      worker_.loop().clock().Now(), "sends", stats.last_error, stats.dropped);
  if (reason.has_value()) {
    Emit({TunnelEvent::kSocketErrors, std::nullopt, *reason, {}});
  }
}

void ClientDriver::HandlePeerEvent(const core::PeerEvent& event) {
  if (metrics_ != nullptr) {
    const size_t shard = worker_.index();
    config_.role->metrics->CountPeerEvent(Role::kClient, event, shard);
    if (event.type == core::PeerEventType::kHandshakeFailed) {
      metrics_->Fail(event.failure, shard);
    }
  }
  if (state() == ClientState::kClosed) return;
  switch (event.type) {
    case core::PeerEventType::kHandshakeCompleted:
      OnHandshakeCompleted(event);
      return;
    case core::PeerEventType::kExpired:
      OnSessionExpired();
      return;
    default:
      return;
  }
}

std::optional<core::Endpoint> ClientDriver::SeenAddress() {
  if (config_.mode == core::Mode::kSnap) return peer_->observed_address();
  if (channel_ == nullptr) return std::nullopt;
  absl::StatusOr<core::Endpoint> local = channel_->LocalEndpoint();
  if (!local.ok()) return std::nullopt;
  return *local;
}

void ClientDriver::OnHandshakeCompleted(const core::PeerEvent& event) {
  port_.counters().handshakes.fetch_add(1, std::memory_order_relaxed);
  if (attempt_timer_ != 0) worker_.loop().Cancel(attempt_timer_);
  attempt_timer_ = 0;
  backoff_.Reset();
  const std::optional<core::Endpoint> address = SeenAddress();
  std::optional<core::Endpoint> previous;
  {
    absl::MutexLock lock(&tunnel_->mu_);
    previous = tunnel_->local_address_;
    tunnel_->local_address_ = address;
  }
  const service::Transition change = AfterHandshake(state());
  const ClientState before = MoveTo(change.to);
  // Counted before the event goes out: its snapshot carries the count.
  if (before == ClientState::kReconnecting) {
    port_.counters().reconnects.fetch_add(1, std::memory_order_relaxed);
  }
  Emit({change.event, address, "", event});
  if (before == ClientState::kConnecting) {
    Finish(address.value_or(core::Endpoint()));
    return;
  }
  // The event's callback may have closed the tunnel: nothing follows kClosed.
  if (state() == ClientState::kClosed) return;
  if (address != previous) {
    Emit({TunnelEvent::kAddressChanged, address, "", event});
  }
}

void ClientDriver::OnSessionExpired() {
  if (state() == ClientState::kEstablished) {
    LoseSession("handshake attempts timed out");
    return;
  }
  // Connecting or reconnecting: this attempt is over.
  if (attempt_timer_ != 0) worker_.loop().Cancel(attempt_timer_);
  OnAttemptTimeout(false);
}

void ClientDriver::LoseSession(const std::string& reason) {
  MoveTo(AfterSessionLost().to);
  Emit({TunnelEvent::kReconnecting, std::nullopt, reason});
  if (peer_ != nullptr) {
    CountDrop(core::DropReason::kNoTunnel, peer_->queued());
  }
  // The first attempt starts at once; failures then back off.
  StartAttempt();
}

void ClientDriver::Reschedule() {
  const absl::Time next =
      peer_ == nullptr ? absl::InfiniteFuture() : peer_->NextDeadline();
  if (next == peer_timer_at_ &&
      (peer_timer_ != 0 || next == absl::InfiniteFuture())) {
    return;
  }
  if (peer_timer_ != 0) worker_.loop().Cancel(peer_timer_);
  peer_timer_ = 0;
  peer_timer_at_ = next;
  if (next == absl::InfiniteFuture() || state() == ClientState::kClosed) {
    return;
  }
  peer_timer_ =
      worker_.loop().RunAt(next, worker_.Calls(id_, &ClientDriver::OnTimer));
}

void ClientDriver::Shutdown(const std::string& reason,
                            std::optional<absl::Status> connect_failure) {
  if (MoveTo(AfterClose().to) == ClientState::kClosed) return;
  for (io::EventLoop::TimerId* timer :
       {&peer_timer_, &attempt_timer_, &retry_timer_}) {
    if (*timer != 0) worker_.loop().Cancel(*timer);
    *timer = 0;
  }
  CloseSocket();
  peer_.reset();
  port_.Close();
  Finish(connect_failure.value_or(
      absl::CancelledError(absl::StrCat("tunnel closed: ", reason))));
  Emit({TunnelEvent::kClosed, std::nullopt, reason});
  // Destroyed after this task; whatever still holds the id finds nothing.
  // Off the loop thread only when Open found the worker stopped: the
  // driver never was a resident.
  if (worker_.loop().InLoopThread()) worker_.residents().Retire(id_);
}

void ClientDriver::Emit(ClientEvent event) {
  if (on_event_) on_event_(event);
}

void ClientDriver::Finish(absl::StatusOr<core::Endpoint> result) {
  if (!on_connect_) return;
  ConnectCallback callback = std::move(on_connect_);
  on_connect_ = nullptr;
  callback(std::move(result));
}

}  // namespace snaptun::service
