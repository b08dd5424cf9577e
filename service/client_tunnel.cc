// Connect, keep alive, reconnect; all on the owning worker's thread.
#include "service/client_tunnel.h"

#include <sys/epoll.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "tunnel/core/messages.h"
#include "tunnel/io/udp_channel.h"

namespace snaptun::service {
namespace {

// Payloads held by the protocol while a handshake is in flight.
constexpr size_t kHandshakeQueue = 128;
// How long Connect waits in real time beyond the connect timeout, which
// the worker's clock enforces first (with its own error) when it is real.
constexpr absl::Duration kConnectWaitMargin = absl::Seconds(2);

std::shared_ptr<const core::PeerConfig> PeerConfigOf(
    const ClientTunnelConfig& config) {
  core::PeerConfig peer;
  peer.mode = config.mode;
  peer.persistent_keepalive = config.persistent_keepalive;
  peer.queue_capacity = kHandshakeQueue;
  peer.no_reply_timeout = config.no_reply_timeout;
  peer.keepalive_probes = config.keepalive_probes;
  return std::make_shared<const core::PeerConfig>(peer);
}

}  // namespace

std::shared_ptr<ClientTunnel> ClientTunnel::Open(
    Worker& worker, const core::LocalIdentity& local,
    const ClientTunnelConfig& config, EventCallback on_event,
    ConnectCallback on_connect) {
  std::shared_ptr<ClientTunnel> tunnel(new ClientTunnel(
      worker, local, config, std::move(on_event), std::move(on_connect)));
  tunnel->port_ = tunnel->MakePort();
  if (!worker.loop().Post([tunnel] { tunnel->Start(); })) {
    // The loop has finished, so nothing else runs on it: end here.
    tunnel->Shutdown("the worker has stopped",
                     absl::UnavailableError("the worker has stopped"));
  }
  return tunnel;
}

absl::StatusOr<std::shared_ptr<ClientTunnel>> ClientTunnel::Connect(
    Worker& worker, const core::LocalIdentity& local,
    const ClientTunnelConfig& config, EventCallback on_event) {
  // Shared with the callback, which may run after this returns (below).
  struct Outcome {
    absl::Notification done;
    absl::Status status;
  };
  auto outcome = std::make_shared<Outcome>();
  std::shared_ptr<ClientTunnel> tunnel =
      Open(worker, local, config, std::move(on_event),
           [outcome](absl::StatusOr<core::Endpoint> result) {
             outcome->status = result.status();
             outcome->done.Notify();
           });
  // The connect timeout runs on the worker's clock. This wait is bounded in
  // real time too, so that a caller whose clock does not move (a test's
  // fake clock, when a loopback datagram is lost) fails instead of hanging.
  if (!outcome->done.WaitForNotificationWithTimeout(config.connect_timeout +
                                                    kConnectWaitMargin)) {
    tunnel->Close("the connect was not answered in real time");
    return WithReason(
        absl::DeadlineExceededError(absl::StrCat(
            "the handshake with ", config.data_plane.ToString(),
            " did not complete within ",
            absl::FormatDuration(config.connect_timeout + kConnectWaitMargin),
            " of real time")),
        reason::kHandshakeTimeout);
  }
  if (!outcome->status.ok()) return outcome->status;
  return tunnel;
}

ClientTunnel::ClientTunnel(Worker& worker, const core::LocalIdentity& local,
                           const ClientTunnelConfig& config,
                           EventCallback on_event, ConnectCallback on_connect)
    : worker_(worker),
      local_(local),
      config_(config),
      peer_config_(PeerConfigOf(config)),
      on_event_(std::move(on_event)),
      on_connect_(std::move(on_connect)),
      pump_(worker, config.mode, *this),
      metrics_(config.metrics == nullptr
                   ? nullptr
                   : &config.metrics->role(Role::kClient)),
      backoff_(config.reconnect_backoff) {
  if (metrics_ != nullptr) {
    metrics_->tunnels_in(TunnelGaugeState::kConnecting).Increment();
  }
}

std::shared_ptr<TunnelPort> ClientTunnel::MakePort() {
  // A payload sent wakes the worker to drain the port, once per burst.
  std::weak_ptr<ClientTunnel> weak = weak_from_this();
  io::EventLoop* loop = &worker_.loop();
  auto wake = [weak, loop](const core::Endpoint&) {
    loop->Post([weak] {
      if (auto self = weak.lock()) self->DrainOutbound();
    });
  };
  return std::make_shared<TunnelPort>(
      PortContext::Make(config_.port, std::move(wake),
                        metrics_ == nullptr
                            ? nullptr
                            : metrics_->DropObserver(worker_.index())),
      config_.data_plane);
}

ClientState ClientTunnel::MoveTo(ClientState to) {
  const ClientState from = state_.exchange(to);
  if (metrics_ != nullptr && from != to) {
    if (Gauged(from)) metrics_->tunnels_in(from).Decrement();
    if (Gauged(to)) metrics_->tunnels_in(to).Increment();
  }
  return from;
}

io::UdpSocketOptions ClientTunnel::SocketOptions() const {
  io::UdpSocketOptions options = config_.socket;
  options.reuse_port = false;
  return options;
}

void ClientTunnel::CountSent(uint64_t packets, uint64_t bytes) {
  port_->counters().Sent(packets, bytes);
  if (metrics_ != nullptr) metrics_->Sent(packets, bytes, worker_.index());
}

void ClientTunnel::CountDrop(core::DropReason reason, uint64_t count) {
  if (count == 0 || reason == core::DropReason::kNone) return;
  port_->counters().Drop(reason, count);
  if (metrics_ != nullptr) metrics_->Drop(reason, count, worker_.index());
}

std::optional<core::Endpoint> ClientTunnel::local_address() const {
  absl::MutexLock lock(&mu_);
  return local_address_;
}

void ClientTunnel::Close(const std::string& reason) {
  if (worker_.loop().InLoopThread()) {
    Shutdown(reason);
    return;
  }
  std::weak_ptr<ClientTunnel> weak = weak_from_this();
  worker_.loop().Post([weak, reason] {
    if (auto self = weak.lock()) self->Shutdown(reason);
  });
}

absl::Status ClientTunnel::OpenSocket() {
  io::DatagramNetwork& network =
      config_.network != nullptr ? *config_.network : io::UdpNetwork::Get();
  absl::StatusOr<std::unique_ptr<io::DatagramChannel>> channel =
      network.Connect(config_.data_plane, SocketOptions());
  if (!channel.ok()) return channel.status();
  CloseSocket();
  channel_ = std::move(*channel);
  kernel_drops_ = io::KernelDropCounter();
  if (metrics_ != nullptr) {
    metrics_->SocketBuffers(
        config_.socket.receive_buffer_bytes, channel_->receive_buffer_bytes(),
        config_.socket.send_buffer_bytes, channel_->send_buffer_bytes());
  }
  return WatchSocket();
}

void ClientTunnel::CloseSocket() {
  if (channel_ == nullptr) return;
  worker_.loop().Unwatch(channel_->readiness_fd());
  channel_.reset();
}

absl::Status ClientTunnel::WatchSocket() {
  std::weak_ptr<ClientTunnel> weak = weak_from_this();
  return worker_.loop().Watch(channel_->readiness_fd(), EPOLLIN,
                              [weak](uint32_t) {
                                if (auto self = weak.lock()) self->OnReadable();
                              });
}

void ClientTunnel::ReadFailed(int error) {
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

void ClientTunnel::PauseReading() {
  const int fd = channel_->readiness_fd();
  worker_.loop().Unwatch(fd);
  std::weak_ptr<ClientTunnel> weak = weak_from_this();
  const absl::Time now = worker_.loop().clock().Now();
  worker_.loop().RunAt(now + read_pause_.Failed(), [weak, fd] {
    auto self = weak.lock();
    if (self == nullptr || self->channel_ == nullptr ||
        self->channel_->readiness_fd() != fd ||
        self->state_.load() == ClientState::kClosed) {
      return;
    }
    // epoll refused the socket (no memory, or its watch limit): counted as
    // a receive error, and tried again after a longer pause, so the tunnel
    // never goes deaf for good.
    // AlreadyExists: the fd number now belongs to a newer socket, which
    // OpenSocket has watched already.
    if (absl::Status watched = self->WatchSocket();
        !watched.ok() && !absl::IsAlreadyExists(watched)) {
      if (self->metrics_ != nullptr) {
        self->metrics_->receive_errors->Increment(1, self->worker_.index());
      }
      self->PauseReading();
    }
  });
}

void ClientTunnel::Start() {
  if (state_.load() == ClientState::kClosed) return;
  if (absl::Status opened = OpenSocket(); !opened.ok()) {
    Shutdown(std::string(opened.message()), opened);
    return;
  }
  self_ = shared_from_this();
  StartAttempt();
}

void ClientTunnel::StartAttempt() {
  retry_timer_ = 0;
  if (state_.load() == ClientState::kClosed) return;
  if (state_.load() == ClientState::kReconnecting) {
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
  std::weak_ptr<ClientTunnel> weak = weak_from_this();
  attempt_timer_ = worker_.loop().RunAt(now + config_.connect_timeout, [weak] {
    if (auto self = weak.lock()) self->OnAttemptTimeout(true);
  });
  Apply();
}

void ClientTunnel::OnAttemptTimeout(bool count_failure) {
  attempt_timer_ = 0;
  const ClientState state = state_.load();
  if (count_failure && metrics_ != nullptr &&
      (state == ClientState::kConnecting ||
       state == ClientState::kReconnecting)) {
    metrics_->Fail(core::HandshakeFailure::kTimeout, worker_.index());
  }
  if (state == ClientState::kConnecting) {
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
  if (state != ClientState::kReconnecting) return;
  // This attempt failed: wait longer each time before the next.
  if (peer_ != nullptr) {
    CountDrop(core::DropReason::kNoTunnel, peer_->queued());
  }
  peer_.reset();
  RetryAfterBackoff();
}

void ClientTunnel::RetryAfterBackoff() {
  Reschedule();
  const absl::Duration delay = backoff_.Next(worker_.rng());
  std::weak_ptr<ClientTunnel> weak = weak_from_this();
  retry_timer_ =
      worker_.loop().RunAt(worker_.loop().clock().Now() + delay, [weak] {
        if (auto self = weak.lock()) {
          self->StartAttempt();
        }
      });
}

void ClientTunnel::OnReadable() { pump_.Receive(kernel_drops_); }

void ClientTunnel::OnDatagram(absl::Time now, absl::Span<uint8_t> datagram,
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
    pump_.Deliver(*port_, result.payload);
  } else if (result.kind == core::ReceiveResult::Kind::kDropped) {
    CountDrop(result.drop);
  }
}

core::SendResult ClientTunnel::Seal(absl::Time now, const core::Endpoint&,
                                    const Packet& payload,
                                    absl::Span<uint8_t> datagram) {
  if (peer_ == nullptr) {
    return {core::SendOutcome::kDropped, core::DropReason::kNoTunnel};
  }
  return peer_->Send(now, payload, datagram, out_);
}

void ClientTunnel::ReceiveSucceeded(const io::ReceiveStats&) {
  read_pause_.Succeeded();
  receive_errors_.Succeeded();
}

void ClientTunnel::ReceiveFailed(int error) { ReadFailed(error); }

void ClientTunnel::Sent(TunnelPort&, const Packet& payload) {
  CountSent(1, payload.size());
}

// Every drop of a client tunnel is its port's (the socket is its own).
void ClientTunnel::Dropped(TunnelPort*, core::DropReason reason,
                           uint64_t count) {
  CountDrop(reason, count);
}

void ClientTunnel::Received(uint64_t packets, uint64_t bytes) {
  if (metrics_ != nullptr) metrics_->Received(packets, bytes, worker_.index());
}

void ClientTunnel::OnTimer() {
  peer_timer_ = 0;
  peer_timer_at_ = absl::InfiniteFuture();
  if (peer_ == nullptr) return;
  const absl::Time now = worker_.loop().clock().Now();
  peer_->OnTimer(now, out_);
  Apply();
  if (state_.load() == ClientState::kEstablished && peer_ != nullptr &&
      peer_->Dead(now)) {
    LoseSession("session expired");
  }
}

void ClientTunnel::DrainOutbound() {
  if (!pump_.Drain(*port_, config_.data_plane)) return;
  std::weak_ptr<ClientTunnel> weak = weak_from_this();
  worker_.loop().Post([weak] {
    if (auto self = weak.lock()) self->DrainOutbound();
  });
}

void ClientTunnel::Apply() {
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
  if (channel_ != nullptr) {
    for (const std::vector<uint8_t>& datagram : datagrams) {
      if (sender.full()) Flushed(channel_->Flush(sender));
      sender.Queue(config_.data_plane, datagram);
    }
    if (!sender.empty()) Flushed(channel_->Flush(sender));
  }
  for (const core::PeerEvent& event : events) HandlePeerEvent(event);
  Reschedule();
}

void ClientTunnel::Flushed(const io::FlushStats& stats) {
  stats.ForEachDrop([this](core::DropReason reason, size_t count) {
    CountDrop(reason, count);
  });
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

void ClientTunnel::HandlePeerEvent(const core::PeerEvent& event) {
  if (metrics_ != nullptr) {
    const size_t shard = worker_.index();
    config_.metrics->CountPeerEvent(Role::kClient, event, shard);
    if (event.type == core::PeerEventType::kHandshakeFailed) {
      metrics_->Fail(event.failure, shard);
    }
  }
  if (state_.load() == ClientState::kClosed) return;
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

std::optional<core::Endpoint> ClientTunnel::SeenAddress() {
  if (config_.mode == core::Mode::kSnap) return peer_->observed_address();
  if (channel_ == nullptr) return std::nullopt;
  absl::StatusOr<core::Endpoint> local = channel_->LocalEndpoint();
  if (!local.ok()) return std::nullopt;
  return *local;
}

void ClientTunnel::OnHandshakeCompleted(const core::PeerEvent& event) {
  port_->counters().handshakes.fetch_add(1, std::memory_order_relaxed);
  if (attempt_timer_ != 0) worker_.loop().Cancel(attempt_timer_);
  attempt_timer_ = 0;
  backoff_.Reset();
  const std::optional<core::Endpoint> address = SeenAddress();
  std::optional<core::Endpoint> previous;
  {
    absl::MutexLock lock(&mu_);
    previous = local_address_;
    local_address_ = address;
  }
  const service::Transition change = AfterHandshake(state_.load());
  const ClientState before = MoveTo(change.to);
  // Counted before the event goes out: its snapshot carries the count.
  if (before == ClientState::kReconnecting) {
    port_->counters().reconnects.fetch_add(1, std::memory_order_relaxed);
    if (config_.metrics != nullptr) {
      config_.metrics->reconnects().Increment(1, worker_.index());
    }
  }
  Emit({change.event, address, "", event});
  if (before == ClientState::kConnecting) {
    Finish(address.value_or(core::Endpoint()));
    return;
  }
  if (address != previous) {
    Emit({TunnelEvent::kAddressChanged, address, "", event});
  }
}

void ClientTunnel::OnSessionExpired() {
  if (state_.load() == ClientState::kEstablished) {
    LoseSession("handshake attempts timed out");
    return;
  }
  // Connecting or reconnecting: this attempt is over.
  if (attempt_timer_ != 0) worker_.loop().Cancel(attempt_timer_);
  OnAttemptTimeout(false);
}

void ClientTunnel::LoseSession(const std::string& reason) {
  MoveTo(AfterSessionLost().to);
  Emit({TunnelEvent::kReconnecting, std::nullopt, reason});
  if (peer_ != nullptr) {
    CountDrop(core::DropReason::kNoTunnel, peer_->queued());
  }
  // The first attempt starts at once; failures then back off.
  StartAttempt();
}

void ClientTunnel::Reschedule() {
  const absl::Time next =
      peer_ == nullptr ? absl::InfiniteFuture() : peer_->NextDeadline();
  if (next == peer_timer_at_ &&
      (peer_timer_ != 0 || next == absl::InfiniteFuture())) {
    return;
  }
  if (peer_timer_ != 0) worker_.loop().Cancel(peer_timer_);
  peer_timer_ = 0;
  peer_timer_at_ = next;
  if (next == absl::InfiniteFuture() || state_.load() == ClientState::kClosed) {
    return;
  }
  std::weak_ptr<ClientTunnel> weak = weak_from_this();
  peer_timer_ = worker_.loop().RunAt(next, [weak] {
    if (auto self = weak.lock()) self->OnTimer();
  });
}

void ClientTunnel::Shutdown(const std::string& reason,
                            std::optional<absl::Status> connect_failure) {
  if (MoveTo(AfterClose().to) == ClientState::kClosed) return;
  for (io::EventLoop::TimerId* timer :
       {&peer_timer_, &attempt_timer_, &retry_timer_}) {
    if (*timer != 0) worker_.loop().Cancel(*timer);
    *timer = 0;
  }
  CloseSocket();
  peer_.reset();
  port_->Close();
  Finish(connect_failure.value_or(
      absl::CancelledError(absl::StrCat("tunnel closed: ", reason))));
  Emit({TunnelEvent::kClosed, std::nullopt, reason});
  // Release the self-reference after this call returns.
  if (self_ != nullptr) {
    worker_.loop().Post([keep = std::move(self_)] {});
  }
}

void ClientTunnel::Emit(ClientEvent event) {
  if (on_event_) on_event_(event);
}

void ClientTunnel::Finish(absl::StatusOr<core::Endpoint> result) {
  if (!on_connect_) return;
  ConnectCallback callback = std::move(on_connect_);
  on_connect_ = nullptr;
  callback(std::move(result));
}

}  // namespace snaptun::service
