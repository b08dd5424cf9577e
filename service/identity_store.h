// The gateway's record of which client identities are authorized, until
// when, and with which labels. The data plane consults it through the core's
// Authorizer interface on every packet, so reads take a shared lock only;
// every change bumps the grant version so tunnels notice renewals. Given the
// gateway's identity, it also keeps each identity's static-static secret
// (computed when the identity is first granted, zeroed when the grant is
// revoked or, once expired, purged), so a handshake costs the gateway one
// X25519 less.
#ifndef SNAPTUN_SERVICE_IDENTITY_STORE_H_
#define SNAPTUN_SERVICE_IDENTITY_STORE_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tunnel/core/authorizer.h"
#include "tunnel/core/identity.h"
#include "tunnel/crypto/secret.h"

namespace snaptun::service {

struct IdentityRecord {
  crypto::PublicKey public_key{};
  absl::Time authorized_at = absl::InfinitePast();
  absl::Time expires_at = absl::InfiniteFuture();
  std::map<std::string, std::string> labels;
  uint64_t version = 0;
};

class IdentityStore final : public core::Authorizer {
 public:
  // At most `max_identities` grants are held (--max_identities).
  // `gateway` (optional, outlives the store) is the identity the gateway
  // answers handshakes with; without it no secret is precomputed.
  explicit IdentityStore(size_t max_identities = 1000000,
                         const core::LocalIdentity* gateway = nullptr)
      : max_identities_(max_identities), gateway_(gateway) {}

  std::optional<core::Grant> Authorize(
      absl::Time now, const crypto::PublicKey& identity) const override;
  std::optional<crypto::SymmetricKey> PrecomputedStaticSecret(
      const crypto::PublicKey& identity) const override;

  // Adds or extends a grant; returns the stored record.
  IdentityRecord Grant(const crypto::PublicKey& identity, absl::Time now,
                       absl::Time expires_at,
                       std::map<std::string, std::string> labels);
  // Grant, refused with RESOURCE_EXHAUSTED when it would add an identity
  // beyond the limit (after forgetting expired grants).
  absl::StatusOr<IdentityRecord> TryGrant(
      const crypto::PublicKey& identity, absl::Time now, absl::Time expires_at,
      std::map<std::string, std::string> labels);
  // True when the identity was known.
  bool Revoke(const crypto::PublicKey& identity);
  // Records that have not expired at `now`, ordered by key; expired ones are
  // forgotten here too.
  std::vector<IdentityRecord> List(absl::Time now);
  // Forgets grants expired at `now`; returns how many. The GrantReaper
  // calls it on a timer, so the store does not grow with churn (W22).
  size_t PurgeExpired(absl::Time now);
  size_t size() const;

 private:
  // True while a grant for `identity` is held (even if expired, until purged).
  bool Holds(const crypto::PublicKey& identity) const ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets grants expired at `now`.
  void PurgeLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // DH(gateway static, identity) for an identity not held yet; nullopt
  // without a gateway identity, for a held one, or for a low-order key.
  std::optional<crypto::SymmetricKey> SecretUnlessHeld(
      const crypto::PublicKey& identity) const ABSL_LOCKS_EXCLUDED(mu_);
  IdentityRecord GrantLocked(const crypto::PublicKey& identity, absl::Time now,
                             absl::Time expires_at,
                             std::map<std::string, std::string> labels,
                             std::optional<crypto::SymmetricKey> secret)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  struct Entry {
    IdentityRecord record;
    // DH(gateway static, identity); unset without a gateway identity or for
    // a low-order key (whose handshakes fail anyway).
    std::optional<crypto::SymmetricKey> static_secret;
  };

  const size_t max_identities_;
  const core::LocalIdentity* const gateway_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<crypto::PublicKey, Entry> records_ ABSL_GUARDED_BY(mu_);
  uint64_t next_version_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_IDENTITY_STORE_H_
