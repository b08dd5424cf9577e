// Receive → table → deliver; ports → table → send; timers by deadline.
#include "service/gateway_shard.h"

#include <sys/epoll.h>

#include <utility>

namespace snaptun::service {
GatewayShard::GatewayShard(Worker& worker, ResidentId id,
                           std::unique_ptr<io::DatagramChannel> channel,
                           const core::LocalIdentity& identity,
                           const core::Authorizer& authorizer,
                           std::shared_ptr<const GatewayConfig> config,
                           size_t workers, GatewayObserver* observer,
                           std::shared_ptr<GatewayShared> shared)
    : worker_(worker),
      id_(id),
      channel_(std::move(channel)),
      config_(std::move(config)),
      observer_(observer),
      shared_(std::move(shared)),
      table_(identity, authorizer, worker.rng(), TableShare(*config_, workers),
             shared_->ledger.get()),
      pump_(worker, config_->table.mode, *this),
      role_metrics_(config_->metrics == nullptr
                        ? nullptr
                        : &config_->metrics->role(Role::kGateway)) {}

// Ports still open (a worker torn down without Stop) close first, so a
// stream's refusal from now on counts for the role (TunnelPort::CountDrop).
GatewayShard::~GatewayShard() {
  for (const PortEntry& entry : ports_) entry.port->Close();
  if (traffic_ != nullptr) traffic_->Leave(this);
}

absl::Status GatewayShard::Start() {
  running_ = true;
  if (role_metrics_ != nullptr) {
    traffic_ = role_metrics_->traffic.ShareOn(worker_);
    traffic_->Join(this);
  }
  port_context_ = MakePortContext();
  return WatchSocket();
}

std::shared_ptr<const PortContext> GatewayShard::MakePortContext() {
  // A payload sent on a tunnel's port wakes the worker to drain that port,
  // once per burst.
  Worker* worker = &worker_;
  auto wake = [worker, id = id_](const core::Endpoint& remote) {
    worker->RunOn<GatewayShard>(
        id, [remote](GatewayShard& shard) { shard.DrainPort(remote); });
  };
  return PortContext::Make(config_->port, std::move(wake));
}

absl::Status GatewayShard::WatchSocket() {
  return worker_.loop().Watch(
      channel_->readiness_fd(), EPOLLIN,
      [readable = worker_.Calls(id_, &GatewayShard::OnReadable)](uint32_t) {
        readable();
      });
}

void GatewayShard::ReadFailed() {
  if (role_metrics_ != nullptr) {
    role_metrics_->receive_errors->Increment(1, worker_.index());
  }
  // Stop reading for a while: the error would wake the loop at once. The
  // socket is shared by many tunnels, so the metric is the report.
  worker_.loop().Unwatch(channel_->readiness_fd());
  worker_.loop().RunAt(worker_.loop().clock().Now() + read_pause_.Failed(),
                       worker_.Calls(id_, &GatewayShard::ResumeReading));
}

void GatewayShard::ResumeReading() {
  if (!running_) return;
  // epoll refused the socket: another failed read, retried after a longer
  // pause.
  const absl::Status watched = WatchSocket();
  if (!watched.ok() && !absl::IsAlreadyExists(watched)) ReadFailed();
}

void GatewayShard::Stop() {
  if (!running_) return;
  running_ = false;
  worker_.loop().Unwatch(channel_->readiness_fd());
  worker_.loop().Cancel(timer_);
  out_.Clear();
  std::vector<core::Endpoint> remotes;
  for (const PortEntry& entry : ports_) remotes.push_back(entry.port->remote());
  for (const core::Endpoint& remote : remotes) {
    table_.Remove(remote, core::RemovalReason::kClosed, out_);
  }
  out_.to_network.clear();
  Apply();
  channel_.reset();
}

size_t GatewayShard::RemoveIdentity(const crypto::PublicKey& identity) {
  if (!running_) return 0;
  const size_t removed =
      table_.RemoveIdentity(identity, core::RemovalReason::kUnauthorized, out_);
  Apply();
  return removed;
}

bool GatewayShard::Remove(const core::Endpoint& remote,
                          const TunnelPort* port) {
  if (!running_) return false;
  auto it = ports_.find(remote);
  if (it == ports_.end() || it->port.get() != port) return false;
  const bool removed =
      table_.Remove(remote, core::RemovalReason::kClosed, out_);
  Apply();
  return removed;
}

void GatewayShard::OnReadable() { pump_.Receive(kernel_drops_); }

void GatewayShard::OnDatagram(absl::Time now, absl::Span<uint8_t> datagram,
                              const core::Endpoint& from) {
  const core::IncomingResult result =
      table_.HandleIncoming(now, datagram, from, out_);
  if (!out_.events.empty()) {
    // A tunnel was created, replaced or removed: its port must change
    // before this datagram's payload is delivered.
    pump_.FlushDeliveries();
    Apply();
  }
  CountFailure(result.failure);
  if (result.initiation) CountInitiation(result);
  if (result.kind == core::ReceiveResult::Kind::kDropped) {
    DropFrom(from, result.drop);
    return;
  }
  if (result.kind != core::ReceiveResult::Kind::kData) return;
  if (!PassesPolicy(result.payload, from)) return;
  if (TunnelPort* port = PortAt(from)) pump_.Deliver(*port, result.payload);
}

core::SendResult GatewayShard::Seal(absl::Time now, const core::Endpoint& to,
                                    const Packet& payload,
                                    absl::Span<uint8_t> datagram) {
  const core::OutgoingResult result =
      table_.HandleOutgoing(now, to, payload, datagram, out_);
  return {result.status, result.drop, result.size};
}

void GatewayShard::ReceiveFailed(int) { ReadFailed(); }

void GatewayShard::ReceiveSucceeded(const io::ReceiveStats& received) {
  read_pause_.Succeeded();
  shared_->datagrams_received.Increment(received.datagrams + received.truncated,
                                        worker_.index());
}

void GatewayShard::Sent(TunnelPort& port, const Packet& payload) {
  if (config_->policy != nullptr) {
    config_->policy->CountEgress(payload, worker_.index());
  }
  CountSent(&port, 1, payload.size());
}

// The shard's socket carries many tunnels: a drop without a port (the
// round's kernel and oversize losses) is counted for the role.
void GatewayShard::Dropped(TunnelPort* port, core::DropReason reason,
                           uint64_t count) {
  if (port == nullptr) {
    CountDrop(reason, count);
  } else if (count > 0 && reason != core::DropReason::kNone) {
    port->counters().Drop(reason, count);
  }
}

void GatewayShard::AddLiveCounts(CountersSnapshot& total) const {
  for (const PortEntry& entry : ports_) entry.port->counters().AddTo(total);
}

bool GatewayShard::PassesPolicy(absl::Span<const uint8_t> payload,
                                const core::Endpoint& from) {
  if (config_->policy == nullptr) return true;
  const core::DropReason drop =
      config_->policy->CheckIngress(payload, from, worker_.index());
  if (drop == core::DropReason::kNone) return true;
  DropFrom(from, drop);
  return false;
}

void GatewayShard::DropFrom(const core::Endpoint& from,
                            core::DropReason reason) {
  Dropped(PortAt(from), reason, 1);
}

TunnelPort* GatewayShard::PortAt(const core::Endpoint& remote) const {
  auto it = ports_.find(remote);
  return it == ports_.end() ? nullptr : it->port.get();
}

void GatewayShard::CountSent(TunnelPort* port, uint64_t packets,
                             uint64_t bytes) {
  if (port != nullptr) {
    port->counters().Sent(packets, bytes);
  } else if (role_metrics_ != nullptr) {
    role_metrics_->Sent(packets, bytes, worker_.index());
  }
}

void GatewayShard::DrainPort(const core::Endpoint& remote) {
  auto it = ports_.find(remote);
  if (it == ports_.end() || !running_) return;
  // Held for the drain: applying the table's output may remove the tunnel.
  std::shared_ptr<TunnelPort> port = it->port;
  if (!pump_.Drain(*port, remote)) return;
  worker_.RunOn<GatewayShard>(
      id_, [remote](GatewayShard& shard) { shard.DrainPort(remote); });
}

void GatewayShard::OnTimer() {
  timer_ = 0;
  timer_at_ = absl::InfiniteFuture();
  if (!running_) return;
  table_.OnTimer(worker_.loop().clock().Now(), out_);
  Apply();
}

void GatewayShard::Apply() {
  for (const core::TableEvent& event : out_.events) {
    const GatewayTunnelInfo info{event.remote, event.identity, worker_.index()};
    switch (event.type) {
      case core::TableEvent::Type::kCreated:
        OnCreated(info);
        break;
      case core::TableEvent::Type::kPeer:
        OnPeerEvent(info, event.peer_event);
        break;
      case core::TableEvent::Type::kRemoved:
        OnRemoved(info, event.removal);
        break;
      case core::TableEvent::Type::kCookieSent:
        if (config_->metrics != nullptr) {
          config_->metrics->cookies_sent().Increment(1, worker_.index());
        }
        break;
    }
  }
  // After the events: a tunnel created in this output has its port now.
  CountFlushed();
  SendOutput();
  Reschedule();
}

void GatewayShard::CountFlushed() {
  // Payloads queued until the client confirmed the session, sealed now:
  // counted on their tunnel's port, like any payload sent.
  for (const core::TableOutput::Flushed& flushed : out_.flushed) {
    CountSent(PortAt(flushed.remote), flushed.packets, flushed.bytes);
  }
}

void GatewayShard::OnCreated(const GatewayTunnelInfo& info) {
  auto port = std::make_shared<TunnelPort>(port_context_, info.remote);
  // The table reports a replaced tunnel's removal first; were it not to,
  // the newer tunnel wins here as it does in the table, and the older port
  // closes rather than leak.
  ClosePort(info.remote);
  ports_.insert(PortEntry{port});
  shared_->tunnels.fetch_add(1, std::memory_order_relaxed);
  MoveGauge(std::nullopt, TunnelGaugeState::kConnecting);
  if (observer_ != nullptr) observer_->OnTunnelAccepted(info, port);
}

void GatewayShard::OnPeerEvent(const GatewayTunnelInfo& info,
                               const core::PeerEvent& event) {
  CountPeerEvent(event);
  if (event.type != core::PeerEventType::kHandshakeCompleted) return;
  auto it = ports_.find(info.remote);
  if (it == ports_.end()) return;
  it->port->counters().handshakes.fetch_add(1, std::memory_order_relaxed);
  const Transition change = AfterHandshake(it->state);
  MoveGauge(it->state, change.to);
  it->state = change.to;
  if (observer_ != nullptr) observer_->OnTunnelChanged(info, change);
}

void GatewayShard::OnRemoved(const GatewayTunnelInfo& info,
                             core::RemovalReason reason) {
  ClosePort(info.remote);
  if (observer_ != nullptr) observer_->OnTunnelRemoved(info, reason);
}

void GatewayShard::ClosePort(const core::Endpoint& remote) {
  auto it = ports_.find(remote);
  if (it == ports_.end()) return;
  it->port->Close();
  if (traffic_ != nullptr) traffic_->Retire(it->port->counters());
  MoveGauge(it->state, std::nullopt);
  ports_.erase(it);
  shared_->tunnels.fetch_sub(1, std::memory_order_relaxed);
}

void GatewayShard::SendOutput() {
  io::BatchSender& sender = worker_.sender();
  // After Stop the channel is gone: what the table still sends (a last
  // word to a removed tunnel) is dropped as a failed send.
  auto flush = [this, &sender] {
    const io::FlushStats stats = io::FlushOrDrop(channel_.get(), sender);
    stats.ForEachDrop([this](core::DropReason reason, size_t count) {
      CountDrop(reason, count);
    });
  };
  for (auto& [to, datagram] : out_.to_network) {
    if (sender.full()) flush();
    sender.Queue(to, datagram);
  }
  for (size_t i = 0; i < core::kDropReasonCount; ++i) {
    CountDrop(static_cast<core::DropReason>(i), out_.drops[i]);
  }
  out_.Clear();
  if (!sender.empty()) flush();
}

void GatewayShard::CountDrop(core::DropReason reason, uint64_t count) {
  if (count == 0 || reason == core::DropReason::kNone) return;
  if (role_metrics_ != nullptr)
    role_metrics_->Drop(reason, count, worker_.index());
}

void GatewayShard::CountFailure(core::HandshakeFailure failure) {
  if (failure == core::HandshakeFailure::kNone) return;
  if (role_metrics_ != nullptr) role_metrics_->Fail(failure, worker_.index());
}

void GatewayShard::CountPeerEvent(const core::PeerEvent& event) {
  if (config_->metrics != nullptr) {
    config_->metrics->CountPeerEvent(Role::kGateway, event, worker_.index());
  }
  // Refused messages are counted from HandleIncoming's result; only a
  // handshake of the gateway's own that got no answer (a gateway initiates
  // only to send on a tunnel whose session expired) arrives here.
  if (event.type == core::PeerEventType::kHandshakeFailed &&
      event.failure == core::HandshakeFailure::kTimeout) {
    CountFailure(event.failure);
  }
}

void GatewayShard::CountInitiation(const core::IncomingResult& result) {
  if (role_metrics_ == nullptr) return;
  const InitiationOutcome outcome =
      result.kind == core::ReceiveResult::Kind::kHandshake
          ? InitiationOutcome::kAnswered
      : result.cookie_sent ? InitiationOutcome::kCookie
                           : InitiationOutcome::kRefused;
  role_metrics_->Initiation(outcome, worker_.index());
}

void GatewayShard::MoveGauge(std::optional<TunnelGaugeState> from,
                             std::optional<TunnelGaugeState> to) {
  if (role_metrics_ == nullptr || from == to) return;
  if (from.has_value() && Gauged(*from)) {
    role_metrics_->tunnels_in(*from).Decrement();
  }
  if (to.has_value() && Gauged(*to)) role_metrics_->tunnels_in(*to).Increment();
}

void GatewayShard::Reschedule() {
  if (!running_) return;
  const absl::Time next = table_.NextDeadline();
  if (next == timer_at_) return;
  if (timer_ != 0) worker_.loop().Cancel(timer_);
  timer_ = 0;
  timer_at_ = next;
  if (next == absl::InfiniteFuture()) return;
  timer_ =
      worker_.loop().RunAt(next, worker_.Calls(id_, &GatewayShard::OnTimer));
}

}  // namespace snaptun::service
