// Tunnel records, lifecycle and events.
#include "service/session_manager.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "service/error_reason.h"

namespace snaptun::service {
namespace {

std::shared_ptr<const ClientRoleConfig> ClientRoleOf(
    const ClientRoleConfig& client, DataPlaneMetrics* metrics) {
  auto role = std::make_shared<ClientRoleConfig>(client);
  role->metrics = metrics;
  return role;
}

CountersSnapshot ReadCounters(const TunnelPort* port) {
  return port == nullptr ? CountersSnapshot() : port->counters().Snapshot();
}

CloseCause CauseOf(const absl::Status& status) {
  return ReasonOf(status) == reason::kHandshakeTimeout
             ? CloseCause::kHandshakeTimeout
             : CloseCause::kGaveUp;
}

CloseCause CauseOf(core::RemovalReason reason) {
  switch (reason) {
    case core::RemovalReason::kExpired:
      return CloseCause::kExpired;
    case core::RemovalReason::kUnauthorized:
      return CloseCause::kRevoked;
    case core::RemovalReason::kReplaced:
      return CloseCause::kReplaced;
    case core::RemovalReason::kClosed:
      return CloseCause::kApi;
  }
  return CloseCause::kNone;
}

bool LabelsMatch(const ListFilter& filter, const TunnelSnapshot& tunnel) {
  for (const auto& [key, value] : filter.labels) {
    auto label = tunnel.labels.find(key);
    if (label == tunnel.labels.end() || label->second != value) return false;
  }
  return true;
}

}  // namespace

ListPage SessionManager::ListClosedLocked(const ListFilter& filter,
                                          size_t page_size,
                                          const std::string& page_token) const {
  ListPage page;
  for (const TunnelSnapshot* t : closed_.After(page_token, Now())) {
    if (filter.role.has_value() && t->role != *filter.role) continue;
    if (!LabelsMatch(filter, *t)) continue;
    if (page.tunnels.size() == page_size) {
      page.next_page_token = page.tunnels.back().tunnel_id;
      break;
    }
    page.tunnels.push_back(*t);
  }
  return page;
}

bool OpenParams::SameAs(const OpenParams& o) const {
  return discover == o.discover && peer_public_key == o.peer_public_key &&
         data_plane == o.data_plane && mode == o.mode &&
         persistent_keepalive == o.persistent_keepalive &&
         receive_queue_capacity == o.receive_queue_capacity &&
         labels == o.labels && control_plane_url == o.control_plane_url;
}

SessionManager::SessionManager(WorkerPool& pool,
                               const core::LocalIdentity& identity,
                               const SessionLimits& limits,
                               DataPlaneMetrics* metrics)
    : pool_(pool),
      identity_(identity),
      limits_(limits),
      metrics_(metrics),
      client_role_(ClientRoleOf(limits.client, metrics)),
      closed_(limits.closed_max, limits.closed_retention) {}

SessionManager::~SessionManager() { CloseAll("shutting down"); }

void SessionManager::AttachGateway(Gateway* gateway,
                                   IdentityStore* identities) {
  gateway_ = gateway;
  identities_ = identities;
}

size_t SessionManager::CountForLocked(Role role,
                                      const crypto::PublicKey& peer) const {
  size_t count = 0;
  for (const auto& [id, record] : records_) {
    if (record->info.role == role && record->info.peer_public_key == peer) {
      ++count;
    }
  }
  return count;
}

void SessionManager::StartClient(const std::string& id) {
  ClientTunnelConfig config;
  {
    absl::MutexLock lock(&mu_);
    auto it = records_.find(id);
    if (it == records_.end()) return;
    const Record& record = *it->second;
    config.peer_public_key = record.info.peer_public_key;
    config.data_plane = record.data_plane;
    config.mode = record.params.mode;
    config.connect_timeout = record.params.connect_timeout;
    config.persistent_keepalive = record.params.persistent_keepalive;
    config.receive_packets = record.params.receive_queue_capacity;
  }
  config.role = client_role_;
  Worker& worker = pool_.ForKey(std::hash<std::string>()(id));
  std::shared_ptr<ClientTunnel> tunnel = ClientTunnel::Open(
      worker, identity_, config,
      [this, id](const ClientEvent& event) { OnClientEvent(id, event); },
      [this, id](absl::StatusOr<core::Endpoint> result) {
        OnConnected(id, std::move(result));
      });
  absl::MutexLock lock(&mu_);
  auto it = records_.find(id);
  if (it == records_.end()) {
    tunnel->Close("closed while starting");
    return;
  }
  it->second->client = tunnel;
  it->second->port = tunnel->port();
}

void SessionManager::FailOpen(const std::string& id,
                              const absl::Status& status) {
  Delivery deliveries;
  std::vector<OpenCallback> waiting;
  {
    absl::MutexLock lock(&mu_);
    auto it = records_.find(id);
    if (it == records_.end()) return;
    Record& record = *it->second;
    waiting = std::move(record.waiting);
    record.waiting.clear();
    record.info.state = SessionState::kClosed;
    record.info.close_reason = std::string(status.message());
    record.info.close_cause = CauseOf(status);
    PublishLocked(SessionEventType::kClosed, record, record.info.close_reason,
                  deliveries);
    ReleaseLocked(record);
    EraseLocked(it);
  }
  Deliver(deliveries);
  for (OpenCallback& callback : waiting) callback(status);
}

void SessionManager::EraseLocked(RecordMap::iterator it) {
  ReleaseFromMuxLocked(*it->second, /*keep_callback=*/false);
  it->second->info.state = SessionState::kClosed;
  closed_.Add(SnapshotLocked(*it->second), Now());
  if (it->second->holds_quota) limits_.quota->Release();
  it->second->holds_quota = false;
  if (it->second->info.role == Role::kClient) --client_tunnels_;
  records_.erase(it);
}

void SessionManager::ReleaseLocked(Record& record) {
  if (!record.registered_url.empty() && registrar_ != nullptr) {
    registrar_->Release(record.registered_url);
  }
  record.registered_url.clear();
}

void SessionManager::OnConnected(const std::string& id,
                                 absl::StatusOr<core::Endpoint> result) {
  Delivery deliveries;
  std::vector<OpenCallback> waiting;
  absl::StatusOr<TunnelSnapshot> outcome =
      absl::UnknownError("the tunnel was closed before it connected");
  {
    absl::MutexLock lock(&mu_);
    auto it = records_.find(id);
    if (it == records_.end()) return;  // Closed meanwhile; callers told.
    Record& record = *it->second;
    waiting = std::move(record.waiting);
    record.waiting.clear();
    if (result.ok()) {
      record.info.state = SessionState::kEstablished;
      record.info.local_address = result->ToString();
      record.info.last_handshake_at = Now();
      PublishLocked(SessionEventType::kEstablished, record, "", deliveries);
      outcome = SnapshotLocked(record);
    } else {
      // A failed connect leaves nothing behind.
      record.info.state = SessionState::kClosed;
      record.info.close_reason = std::string(result.status().message());
      record.info.close_cause = CauseOf(result.status());
      PublishLocked(SessionEventType::kClosed, record, record.info.close_reason,
                    deliveries);
      ReleaseLocked(record);
      EraseLocked(it);
      outcome = result.status();
    }
  }
  Deliver(deliveries);
  for (OpenCallback& callback : waiting) callback(outcome);
}

void SessionManager::OnClientEvent(const std::string& id,
                                   const ClientEvent& event) {
  Delivery deliveries;
  {
    absl::MutexLock lock(&mu_);
    auto it = records_.find(id);
    if (it == records_.end()) return;
    Record& record = *it->second;
    switch (event.type) {
      case TunnelEvent::kOpened:  // Announced by Open itself.
        break;
      case TunnelEvent::kEstablished:
        record.info.last_handshake_at = Now();
        // The first establishment is reported by OnConnected.
        if (record.info.state == SessionState::kReconnecting) {
          record.info.state = SessionState::kEstablished;
          PublishLocked(SessionEventType::kEstablished, record, "", deliveries);
        }
        break;
      case TunnelEvent::kRekeyed:
        record.info.last_handshake_at = Now();
        PublishLocked(SessionEventType::kRekeyed, record, "", deliveries);
        break;
      case TunnelEvent::kReconnecting:
        // The gateway may have lost the grant (a restart): renew it now
        // rather than at the next refresh (W8).
        if (!record.registered_url.empty() && registrar_ != nullptr) {
          registrar_->Refresh(record.registered_url);
        }
        record.info.state = SessionState::kReconnecting;
        PublishLocked(SessionEventType::kReconnecting, record, event.reason,
                      deliveries);
        break;
      case TunnelEvent::kAddressChanged:
        if (event.address.has_value()) {
          record.info.local_address = event.address->ToString();
        }
        PublishLocked(SessionEventType::kAddressChanged, record, "",
                      deliveries);
        break;
      case TunnelEvent::kSocketErrors:
        PublishLocked(SessionEventType::kSocketErrors, record, event.reason,
                      deliveries);
        break;
      case TunnelEvent::kClosed:
        if (record.info.state == SessionState::kConnecting) break;
        record.info.state = SessionState::kClosed;
        record.info.close_reason = event.reason;
        record.info.close_cause = CloseCause::kGaveUp;
        PublishLocked(SessionEventType::kClosed, record, event.reason,
                      deliveries);
        ReleaseLocked(record);
        EraseLocked(it);
        break;
    }
  }
  Deliver(deliveries);
}

absl::StatusOr<TunnelSnapshot> SessionManager::Close(
    const std::string& tunnel_id, const std::string& reason, CloseCause cause) {
  Delivery deliveries;
  std::shared_ptr<Record> record;
  TunnelSnapshot snapshot;
  {
    absl::MutexLock lock(&mu_);
    auto it = records_.find(tunnel_id);
    if (it == records_.end()) {
      // Closing twice is not an error (AIP-135): report it as it closed.
      if (const TunnelSnapshot* closed = closed_.Find(tunnel_id, Now())) {
        return *closed;
      }
      return WithReason(
          absl::NotFoundError(absl::StrCat("no tunnel ", tunnel_id,
                                           " (ListTunnels shows them)")),
          reason::kTunnelNotFound);
    }
    record = it->second;
    record->info.state = SessionState::kClosed;
    record->info.close_reason = reason;
    record->info.close_cause = cause;
    snapshot = SnapshotLocked(*record);
    PublishLocked(SessionEventType::kClosed, *record, reason, deliveries);
    if (record->info.role == Role::kGateway) {
      gateway_ids_.erase(record->gateway_remote);
    }
    ReleaseLocked(*record);
    EraseLocked(it);
  }
  Deliver(deliveries);
  for (OpenCallback& callback : record->waiting) {
    callback(absl::CancelledError(
        absl::StrCat("tunnel ", tunnel_id, " was closed: ", reason)));
  }
  record->waiting.clear();
  if (record->client != nullptr) record->client->Close(reason);
  if (record->info.role == Role::kGateway && gateway_ != nullptr) {
    gateway_->CloseTunnelAsync(record->gateway_remote, record->port);
  }
  if (record->port != nullptr) record->port->Close();
  WakeMuxes();
  return snapshot;
}

absl::StatusOr<TunnelSnapshot> SessionManager::Get(
    const std::string& tunnel_id) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = records_.find(tunnel_id);
  if (it == records_.end()) {
    if (const TunnelSnapshot* closed = closed_.Find(tunnel_id, Now())) {
      return *closed;
    }
    return WithReason(
        absl::NotFoundError(absl::StrCat("no tunnel ", tunnel_id)),
        reason::kTunnelNotFound);
  }
  return SnapshotLocked(*it->second);
}

absl::StatusOr<ListPage> SessionManager::List(
    const ListFilter& filter, size_t page_size,
    const std::string& page_token) const {
  constexpr size_t kDefaultPage = 100;
  constexpr size_t kMaxPage = 1000;
  if (page_size == 0) page_size = kDefaultPage;
  page_size = std::min(page_size, kMaxPage);
  ListPage page;
  absl::ReaderMutexLock lock(&mu_);
  if (filter.state == SessionState::kClosed)
    return ListClosedLocked(filter, page_size, page_token);
  // The token is the last id of the previous page; ids sort as strings.
  auto it =
      page_token.empty() ? records_.begin() : records_.upper_bound(page_token);
  for (; it != records_.end(); ++it) {
    const Record& record = *it->second;
    if (filter.role.has_value() && record.info.role != *filter.role) continue;
    if (filter.state.has_value() && record.info.state != *filter.state) {
      continue;
    }
    if (!LabelsMatch(filter, record.info)) continue;
    if (page.tunnels.size() == page_size) {
      page.next_page_token = page.tunnels.back().tunnel_id;
      break;
    }
    page.tunnels.push_back(SnapshotLocked(record));
  }
  return page;
}

absl::StatusOr<SessionManager::StreamAttachment> SessionManager::AttachStream(
    const std::string& tunnel_id, bool takeover,
    std::function<void()> evicted) {
  std::function<void()> evict_previous;
  StreamAttachment attachment;
  {
    absl::MutexLock lock(&mu_);
    auto it = records_.find(tunnel_id);
    if (it == records_.end()) {
      return WithReason(
          absl::NotFoundError(absl::StrCat("no tunnel ", tunnel_id)),
          reason::kTunnelNotFound);
    }
    Record& record = *it->second;
    if (record.port == nullptr) {
      return WithReason(absl::FailedPreconditionError(absl::StrCat(
                            "tunnel ", tunnel_id, " is still being set up")),
                        reason::kTunnelNotReady);
    }
    if (MuxHoldingLocked(record) != nullptr) {
      if (!takeover) {
        return WithReason(
            absl::FailedPreconditionError(absl::StrCat(
                "tunnel ", tunnel_id,
                " is carried by a multiplexed gateway stream (set takeover "
                "in the first PacketBatch to carry it here instead)")),
            reason::kStreamAlreadyAttached);
      }
      // The new stream installs its own receive callback.
      ReleaseFromMuxLocked(record, /*keep_callback=*/true);
    }
    if (record.stream_holder != 0 && !takeover) {
      return WithReason(
          absl::FailedPreconditionError(absl::StrCat(
              "tunnel ", tunnel_id,
              " already has a packet stream attached (set takeover in the "
              "first PacketBatch to replace it)")),
          reason::kStreamAlreadyAttached);
    }
    if (record.stream_holder != 0) {
      evict_previous = std::move(record.stream_evicted);
    }
    record.stream_holder = next_holder_++;
    record.stream_evicted = std::move(evicted);
    attachment.port = record.port;
    attachment.holder = record.stream_holder;
  }
  if (evict_previous) evict_previous();
  WakeMuxes();
  return attachment;
}

void SessionManager::DetachStream(const std::string& tunnel_id,
                                  uint64_t holder) {
  {
    absl::MutexLock lock(&mu_);
    auto it = records_.find(tunnel_id);
    if (it != records_.end() && it->second->stream_holder == holder) {
      it->second->stream_holder = 0;
      it->second->stream_evicted = nullptr;
      // A gateway tunnel goes back to its multiplexed stream, if one is
      // open.
      ClaimForMuxLocked(*it->second);
    }
  }
  WakeMuxes();
}

absl::StatusOr<std::shared_ptr<EventSubscription>> SessionManager::Subscribe(
    const std::string& tunnel_id, std::map<std::string, std::string> labels,
    bool include_existing) {
  absl::MutexLock lock(&mu_);
  if (watchers_ended_) {
    return WithReason(
        absl::UnavailableError("the daemon is shutting down; watch another "
                               "replica"),
        reason::kShuttingDown);
  }
  if (subscriptions_.size() >= limits_.max_watchers) {
    return absl::ResourceExhaustedError(
        absl::StrCat("this daemon already serves ", subscriptions_.size(),
                     " WatchTunnels streams, its limit (--max_watchers)"));
  }
  auto subscription = std::make_shared<EventSubscription>(
      tunnel_id, std::move(labels), limits_.watcher, include_existing);
  subscriptions_.push_back(subscription);
  return subscription;
}

std::optional<SessionEvent> SessionManager::NextEvent(
    EventSubscription& subscription) {
  if (subscription.replaying()) {
    absl::ReaderMutexLock lock(&mu_);
    for (auto it = records_.upper_bound(subscription.replay_cursor());
         it != records_.end(); ++it) {
      auto snapshot =
          std::make_shared<const TunnelSnapshot>(SnapshotLocked(*it->second));
      if (!subscription.Matches(*snapshot)) continue;
      subscription.AdvanceReplay(it->first);
      return SessionEvent{SessionEventType::kOpened, Now(), std::move(snapshot),
                          "existing"};
    }
    subscription.EndReplay();
  }
  return subscription.Pop();
}

size_t SessionManager::watchers() const {
  absl::ReaderMutexLock lock(&mu_);
  return subscriptions_.size();
}

SessionManager::Occupancy SessionManager::occupancy() const {
  Occupancy out;
  absl::flat_hash_map<crypto::PublicKey, uint32_t> per_peer[2];
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [id, record] : records_) {
    const bool client = record->info.role == Role::kClient;
    RoleOccupancy& role = client ? out.client : out.gateway;
    // Per-tunnel streams only: a multiplexed stream counts once.
    if (record->stream_holder != 0 && MuxHoldingLocked(*record) == nullptr) {
      ++role.streams;
    }
    const uint32_t held = ++per_peer[client][record->info.peer_public_key];
    role.busiest_peer = std::max<size_t>(role.busiest_peer, held);
  }
  out.gateway.streams += muxes_open_;
  return out;
}

void SessionManager::EndWatchers() {
  std::vector<std::shared_ptr<EventSubscription>> ending;
  {
    absl::MutexLock lock(&mu_);
    watchers_ended_ = true;
    ending = subscriptions_;
  }
  for (const auto& subscription : ending) subscription->End();
}

void SessionManager::Unsubscribe(
    const std::shared_ptr<EventSubscription>& subscription) {
  absl::MutexLock lock(&mu_);
  subscriptions_.erase(
      std::remove(subscriptions_.begin(), subscriptions_.end(), subscription),
      subscriptions_.end());
}

void SessionManager::CloseAll(const std::string& reason) {
  std::vector<std::string> ids;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& [id, record] : records_) ids.push_back(id);
  }
  for (const std::string& id : ids) {
    Close(id, reason, CloseCause::kDrain).IgnoreError();
  }
}

absl::flat_hash_map<crypto::PublicKey, uint32_t>
SessionManager::GatewayTunnelCounts() const {
  absl::flat_hash_map<crypto::PublicKey, uint32_t> counts;
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [id, record] : records_) {
    if (record->info.role == Role::kGateway) {
      ++counts[record->info.peer_public_key];
    }
  }
  return counts;
}

uint32_t SessionManager::GatewayTunnelsOf(
    const crypto::PublicKey& identity) const {
  absl::ReaderMutexLock lock(&mu_);
  return static_cast<uint32_t>(CountForLocked(Role::kGateway, identity));
}

size_t SessionManager::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return records_.size();
}

void SessionManager::OnTunnelAccepted(const GatewayTunnelInfo& info,
                                      std::shared_ptr<TunnelPort> port) {
  Delivery deliveries;
  {
    absl::MutexLock lock(&mu_);
    auto record = std::make_shared<Record>();
    std::string id;
    do {
      id = absl::StrCat("gw-", next_id_++);
    } while (records_.contains(id));
    record->info.tunnel_id = id;
    record->info.role = Role::kGateway;
    record->info.state = SessionState::kConnecting;
    record->info.mode =
        gateway_ != nullptr ? gateway_->mode() : core::Mode::kSnap;
    record->info.peer_public_key = info.identity;
    record->info.remote_address = info.remote.ToString();
    if (gateway_ != nullptr) {
      record->info.local_address = gateway_->local_address().ToString();
    }
    record->info.created_at = Now();
    record->port = std::move(port);
    record->gateway_remote = info.remote;
    records_[id] = record;
    gateway_ids_[info.remote] = id;
    ClaimForMuxLocked(*record);
    PublishLocked(SessionEventType::kOpened, *record, "", deliveries);
  }
  Deliver(deliveries);
  WakeMuxes();
}

void SessionManager::OnTunnelChanged(const GatewayTunnelInfo& info,
                                     const Transition& change) {
  Delivery deliveries;
  {
    absl::MutexLock lock(&mu_);
    auto id = gateway_ids_.find(info.remote);
    if (id == gateway_ids_.end()) return;
    auto it = records_.find(id->second);
    if (it == records_.end()) return;
    Record& record = *it->second;
    // Every change a gateway reports follows a completed handshake.
    record.info.last_handshake_at = Now();
    record.info.state = change.to;
    PublishLocked(change.event, record, "", deliveries);
  }
  Deliver(deliveries);
}

void SessionManager::OnTunnelRemoved(const GatewayTunnelInfo& info,
                                     core::RemovalReason reason) {
  Delivery deliveries;
  {
    absl::MutexLock lock(&mu_);
    auto id = gateway_ids_.find(info.remote);
    if (id == gateway_ids_.end()) return;  // Closed through the API.
    auto it = records_.find(id->second);
    gateway_ids_.erase(id);
    if (it == records_.end()) return;
    Record& record = *it->second;
    record.info.state = SessionState::kClosed;
    record.info.close_reason = std::string(core::RemovalReasonName(reason));
    record.info.close_cause = CauseOf(reason);
    PublishLocked(SessionEventType::kClosed, record, record.info.close_reason,
                  deliveries);
    EraseLocked(it);
  }
  Deliver(deliveries);
  WakeMuxes();
}

TunnelSnapshot SessionManager::SnapshotLocked(const Record& record) const {
  TunnelSnapshot snapshot = record.info;
  snapshot.counters = ReadCounters(record.port.get());
  return snapshot;
}

void SessionManager::PublishLocked(SessionEventType type, const Record& record,
                                   const std::string& reason, Delivery& out) {
  if (subscriptions_.empty()) return;
  auto snapshot =
      std::make_shared<const TunnelSnapshot>(SnapshotLocked(record));
  const absl::Time now = Now();
  for (const auto& subscription : subscriptions_) {
    if (subscription->Matches(*snapshot)) {
      out.push_back({subscription, {type, now, snapshot, reason}});
    }
  }
}

void SessionManager::Deliver(Delivery& deliveries) {
  for (auto& [subscription, event] : deliveries) {
    subscription->Push(std::move(event));
    subscription->NotifyReady();
  }
}

}  // namespace snaptun::service
