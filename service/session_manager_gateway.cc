// The session manager's gateway-role facade: grants, revocation (which
// closes the identity's tunnels on every worker) and the gateway's summary,
// the operations GatewayService exposes.
#include <algorithm>
#include <memory>

#include "service/error_reason.h"
#include "service/gateway.h"
#include "service/identity_store.h"
#include "service/session_manager.h"

namespace snaptun::service {

bool SessionManager::gateway_role() const {
  return gateway_ != nullptr && identities_ != nullptr;
}

absl::Status SessionManager::GatewayRoleOn() const {
  if (gateway_role()) return absl::OkStatus();
  return WithReason(absl::FailedPreconditionError(
                        "the gateway role is off: start snaptund with "
                        "--gateway_listen"),
                    reason::kGatewayRoleOff);
}

absl::StatusOr<IdentityRecord> SessionManager::GrantIdentity(
    const crypto::PublicKey& key, absl::Time now, absl::Time expires,
    std::map<std::string, std::string> labels) {
  if (absl::Status on = GatewayRoleOn(); !on.ok()) return on;
  return identities_->TryGrant(key, now, expires, std::move(labels));
}

void SessionManager::RevokeIdentity(
    const crypto::PublicKey& key,
    std::function<void(absl::StatusOr<size_t>)> done) {
  if (absl::Status on = GatewayRoleOn(); !on.ok()) {
    done(on);
    return;
  }
  // Counted first: once the grant is gone, a packet arriving before the
  // workers get to it may already have removed a tunnel (per-packet
  // authorization), and it was closed by this revocation all the same.
  const size_t held = GatewayTunnelsOf(key);
  const bool known = identities_->Revoke(key);
  gateway_->RevokeIdentityAsync(key, [done = std::move(done), held,
                                      known](size_t removed) {
    const size_t closed = std::max(held, removed);
    if (!known && closed == 0) {
      done(WithReason(absl::NotFoundError("this identity is not authorized"),
                      reason::kIdentityNotAuthorized));
      return;
    }
    done(closed);
  });
}

std::vector<IdentityRecord> SessionManager::ListIdentities(
    absl::Time now) const {
  if (!gateway_role()) return {};
  return identities_->List(now);
}

absl::StatusOr<SessionManager::GatewayInfo> SessionManager::gateway_info()
    const {
  if (absl::Status on = GatewayRoleOn(); !on.ok()) return on;
  return GatewayInfo{gateway_->local_address(), gateway_->tunnel_count(),
                     identities_->size()};
}

}  // namespace snaptun::service
