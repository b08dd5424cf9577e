// Grants with expiry, read under a shared lock.
#include "service/identity_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "service/error_reason.h"
#include "tunnel/core/noise.h"

namespace snaptun::service {

std::optional<core::Grant> IdentityStore::Authorize(
    absl::Time now, const crypto::PublicKey& identity) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = records_.find(identity);
  if (it == records_.end() || now >= it->second.record.expires_at) {
    return std::nullopt;
  }
  return core::Grant{it->second.record.expires_at, it->second.record.version};
}

std::optional<crypto::SymmetricKey> IdentityStore::PrecomputedStaticSecret(
    const crypto::PublicKey& identity) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = records_.find(identity);
  if (it == records_.end()) return std::nullopt;
  return it->second.static_secret;
}

std::optional<crypto::SymmetricKey> IdentityStore::SecretUnlessHeld(
    const crypto::PublicKey& identity) const {
  // The X25519 runs outside the lock the data plane reads under, and only
  // for an identity not held yet (renewals keep their secret). A grant
  // that races a purge or revocation may be stored without its secret; its
  // handshakes then compute the agreement themselves.
  if (gateway_ == nullptr || Holds(identity)) return std::nullopt;
  return core::StaticSecret(*gateway_, identity);
}

IdentityRecord IdentityStore::GrantLocked(
    const crypto::PublicKey& identity, absl::Time now, absl::Time expires_at,
    std::map<std::string, std::string> labels,
    std::optional<crypto::SymmetricKey> secret) {
  Entry& entry = records_[identity];
  if (!entry.static_secret.has_value()) entry.static_secret = std::move(secret);
  IdentityRecord& record = entry.record;
  if (record.version == 0 || now >= record.expires_at) {
    record.authorized_at = now;
  }
  record.public_key = identity;
  record.expires_at = expires_at;
  record.labels = std::move(labels);
  record.version = next_version_++;
  return record;
}

IdentityRecord IdentityStore::Grant(const crypto::PublicKey& identity,
                                    absl::Time now, absl::Time expires_at,
                                    std::map<std::string, std::string> labels) {
  std::optional<crypto::SymmetricKey> secret = SecretUnlessHeld(identity);
  absl::MutexLock lock(&mu_);
  return GrantLocked(identity, now, expires_at, std::move(labels),
                     std::move(secret));
}

absl::StatusOr<IdentityRecord> IdentityStore::TryGrant(
    const crypto::PublicKey& identity, absl::Time now, absl::Time expires_at,
    std::map<std::string, std::string> labels) {
  std::optional<crypto::SymmetricKey> secret = SecretUnlessHeld(identity);
  // The limit is checked and the grant stored under one lock, so
  // concurrent grants cannot overshoot it.
  absl::MutexLock lock(&mu_);
  if (!records_.contains(identity) && records_.size() >= max_identities_) {
    PurgeLocked(now);
    if (records_.size() >= max_identities_) {
      return WithReason(
          absl::ResourceExhaustedError(absl::StrCat(
              "this gateway already holds ", records_.size(),
              " authorized identities, its limit (--max_identities)")),
          reason::kMaxIdentities);
    }
  }
  return GrantLocked(identity, now, expires_at, std::move(labels),
                     std::move(secret));
}

size_t IdentityStore::PurgeExpired(absl::Time now) {
  absl::MutexLock lock(&mu_);
  const size_t before = records_.size();
  PurgeLocked(now);
  return before - records_.size();
}

void IdentityStore::PurgeLocked(absl::Time now) {
  for (auto it = records_.begin(); it != records_.end();) {
    if (now >= it->second.record.expires_at) {
      records_.erase(it++);
    } else {
      ++it;
    }
  }
}

bool IdentityStore::Revoke(const crypto::PublicKey& identity) {
  absl::MutexLock lock(&mu_);
  return records_.erase(identity) > 0;
}

std::vector<IdentityRecord> IdentityStore::List(absl::Time now) {
  absl::MutexLock lock(&mu_);
  PurgeLocked(now);
  std::vector<IdentityRecord> out;
  out.reserve(records_.size());
  for (const auto& [key, entry] : records_) out.push_back(entry.record);
  std::sort(out.begin(), out.end(),
            [](const IdentityRecord& a, const IdentityRecord& b) {
              return a.public_key < b.public_key;
            });
  return out;
}

bool IdentityStore::Holds(const crypto::PublicKey& identity) const {
  absl::ReaderMutexLock lock(&mu_);
  return records_.contains(identity);
}

size_t IdentityStore::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return records_.size();
}

}  // namespace snaptun::service
