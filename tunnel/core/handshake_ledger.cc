// The shared limiter and replay record, under one lock.
#include "tunnel/core/handshake_ledger.h"

namespace snaptun::core {

HandshakeLedger::HandshakeLedger(const RateLimiterConfig& limits,
                                 size_t max_identities)
    : max_identities_(max_identities), limiter_(limits) {}

HandshakeRateLimiter::Decision HandshakeLedger::Admit(absl::Time now,
                                                      const Endpoint& source) {
  absl::MutexLock lock(&mu_);
  return limiter_.Admit(now, source);
}

bool HandshakeLedger::Claim(const crypto::PublicKey& identity,
                            const crypto::Tai64n& timestamp) {
  absl::MutexLock lock(&mu_);
  const auto seen = timestamps_.find(identity);
  if (seen != timestamps_.end() &&
      !crypto::Tai64nAfter(timestamp, seen->second)) {
    return false;
  }
  RememberLocked(identity, timestamp);
  return true;
}

void HandshakeLedger::Remember(const crypto::PublicKey& identity,
                               const crypto::Tai64n& timestamp) {
  absl::MutexLock lock(&mu_);
  RememberLocked(identity, timestamp);
}

void HandshakeLedger::RememberLocked(const crypto::PublicKey& identity,
                                     const crypto::Tai64n& timestamp) {
  if (timestamps_.size() >= max_identities_ && !timestamps_.contains(identity)) {
    timestamps_.erase(timestamps_.begin());
  }
  timestamps_[identity] = timestamp;
}

}  // namespace snaptun::core
