// The client role's open: an idempotent join of an open under way or done,
// the limits, the new record, and the control-plane registration (and
// discovery) that comes before the data plane when a control plane is named.
#include "absl/strings/str_cat.h"
#include "service/error_reason.h"
#include "service/session_manager.h"

namespace snaptun::service {

void SessionManager::Open(OpenParams params, OpenCallback done) {
  Delivery deliveries;
  std::optional<absl::StatusOr<TunnelSnapshot>> answer;
  bool start = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = params.tunnel_id.empty() ? records_.end()
                                       : records_.find(params.tunnel_id);
    if (it != records_.end()) {
      answer = JoinLocked(*it->second, params, done);
    } else if (absl::Status admitted = AdmitClientLocked(params);
               !admitted.ok()) {
      answer = admitted;
    } else {
      AddClientLocked(params, std::move(done), deliveries);
      start = true;
    }
  }
  // Answered outside the lock: the callback may call into the manager.
  if (answer.has_value()) done(*std::move(answer));
  if (!start) return;
  Deliver(deliveries);
  RegisterThenStart(params);
}

std::optional<absl::StatusOr<TunnelSnapshot>> SessionManager::JoinLocked(
    Record& existing, const OpenParams& params, OpenCallback& done) {
  if (existing.info.role != Role::kClient || !existing.params.SameAs(params)) {
    return WithReason(
        absl::AlreadyExistsError(absl::StrCat(
            "tunnel ", params.tunnel_id,
            " already exists with different parameters; close it first "
            "or choose another tunnel_id")),
        reason::kTunnelExists);
  }
  if (existing.info.state == SessionState::kConnecting) {
    existing.waiting.push_back(std::move(done));
    return std::nullopt;
  }
  return SnapshotLocked(existing);
}

absl::Status SessionManager::AdmitClientLocked(const OpenParams& params) {
  if (CountForLocked(Role::kClient, params.peer_public_key) >=
      limits_.max_tunnels_per_identity) {
    return WithReason(absl::ResourceExhaustedError(absl::StrCat(
                          "already ", limits_.max_tunnels_per_identity,
                          " tunnels to this peer key "
                          "(--max_tunnels_per_identity)")),
                      reason::kMaxTunnelsPerIdentity);
  }
  if (client_tunnels_ >= limits_.max_client_tunnels) {
    return WithReason(absl::ResourceExhaustedError(absl::StrCat(
                          "this daemon already holds ", client_tunnels_,
                          " client tunnels, all its file descriptors allow "
                          "(RLIMIT_NOFILE; raise it, see docs/OPERATIONS.md)")),
                      reason::kFileDescriptors);
  }
  // One count for both roles: the gateway's tunnels hold slots too.
  const bool full = limits_.quota != nullptr
                        ? !limits_.quota->TryAcquire()
                        : records_.size() >= limits_.max_tunnels;
  if (full) {
    return WithReason(absl::ResourceExhaustedError(absl::StrCat(
                          "this daemon already holds ", limits_.max_tunnels,
                          " tunnels, client and gateway role together, its "
                          "limit (--max_tunnels)")),
                      reason::kMaxTunnels);
  }
  return absl::OkStatus();
}

void SessionManager::AddClientLocked(OpenParams& params, OpenCallback done,
                                     Delivery& deliveries) {
  if (params.tunnel_id.empty()) {
    do {
      params.tunnel_id = absl::StrCat("tun-", next_id_++);
    } while (records_.contains(params.tunnel_id));
  }
  auto record = std::make_shared<Record>();
  record->holds_quota = limits_.quota != nullptr;
  ++client_tunnels_;
  record->params = params;
  TunnelSnapshot& info = record->info;
  info.tunnel_id = params.tunnel_id;
  info.role = Role::kClient;
  info.state = SessionState::kConnecting;
  info.mode = params.mode;
  info.peer_public_key = params.peer_public_key;
  if (!params.discover) {
    info.remote_address = params.data_plane.ToString();
    record->data_plane = params.data_plane;
  }
  info.created_at = Now();
  info.labels = params.labels;
  info.control_plane_url = params.control_plane_url;
  record->waiting.push_back(std::move(done));
  records_[params.tunnel_id] = record;
  PublishLocked(SessionEventType::kOpened, *record, "", deliveries);
}

void SessionManager::RegisterThenStart(const OpenParams& params) {
  if (params.control_plane_url.empty()) {
    StartClient(params.tunnel_id);
    return;
  }
  if (registrar_ == nullptr) {
    FailOpen(params.tunnel_id,
             WithReason(absl::FailedPreconditionError(
                            "control_plane_url needs a SNAP token: start "
                            "snaptund with --snap_token_file"),
                        reason::kNoSnapToken));
    return;
  }
  // Discovery first: it names the snaptun control plane to register with,
  // which may differ from the SNAP control plane in the request.
  const std::string id = params.tunnel_id;
  registrar_->DiscoverAndAcquire(
      params.control_plane_url,
      [this, id](absl::StatusOr<Registration> registration) {
        OnRegistered(id, std::move(registration));
      });
}

void SessionManager::OnRegistered(const std::string& id,
                                  absl::StatusOr<Registration> registration) {
  if (!registration.ok()) {
    FailOpen(id, registration.status());
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    auto it = records_.find(id);
    if (it == records_.end()) {
      // Closed meanwhile: give the registration back.
      registrar_->Release(registration->url);
      return;
    }
    Record& record = *it->second;
    record.registered_url = registration->url;
    if (record.params.discover) {
      const DataPlaneInfo& data_plane = registration->data_plane;
      record.info.peer_public_key = data_plane.public_key;
      record.info.remote_address = data_plane.address.ToString();
      record.data_plane = data_plane.address;
    }
  }
  StartClient(id);
}

}  // namespace snaptun::service
