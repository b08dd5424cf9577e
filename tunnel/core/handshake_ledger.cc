// The shared limiter and replay record, under one lock.
#include "tunnel/core/handshake_ledger.h"

#include <algorithm>
#include <cstring>

namespace snaptun::core {

HandshakeLedger::HandshakeLedger(const RateLimiterConfig& limits,
                                 size_t max_identities)
    : max_identities_(max_identities), limiter_(limits) {}

HandshakeRateLimiter::Decision HandshakeLedger::Admit(absl::Time now,
                                                      const Endpoint& source) {
  absl::MutexLock lock(&mu_);
  return limiter_.Admit(now, source);
}

namespace {

int64_t UnixNanos(const crypto::Tai64n& t) {
  uint64_t seconds = 0;
  for (int i = 0; i < 8; ++i) seconds = seconds << 8 | t[i];
  uint32_t nanos = 0;
  for (int i = 8; i < 12; ++i) nanos = nanos << 8 | t[i];
  const int64_t unix_seconds =
      static_cast<int64_t>(seconds - (uint64_t{1} << 62));
  return unix_seconds * 1000000000 + nanos;
}

uint64_t Fingerprint(const crypto::PublicKey& key) {
  uint64_t fingerprint;
  std::memcpy(&fingerprint, key.data(), sizeof(fingerprint));
  return fingerprint;
}

}  // namespace

bool HandshakeLedger::Claim(const crypto::PublicKey& identity,
                            const crypto::Tai64n& timestamp,
                            const crypto::PublicKey& ephemeral) {
  const int64_t at = UnixNanos(timestamp);
  const int64_t window = absl::ToInt64Nanoseconds(kReplayWindow);
  absl::MutexLock lock(&mu_);
  auto it = seen_.find(identity);
  if (it == seen_.end()) {
    if (seen_.size() >= max_identities_) seen_.erase(seen_.begin());
    it = seen_.emplace(identity, Seen{}).first;
    it->second.newest = at;
  }
  Seen& seen = it->second;
  if (at < seen.newest - window) return false;
  const uint64_t fingerprint = Fingerprint(ephemeral);
  for (const auto& [when, key] : seen.recent) {
    if (key == fingerprint) return false;
  }
  seen.newest = std::max(seen.newest, at);
  seen.recent.emplace_back(at, fingerprint);
  size_t expired = 0;
  while (expired < seen.recent.size() &&
         (seen.recent[expired].first < seen.newest - window ||
          seen.recent.size() - expired > kMaxRemembered)) {
    ++expired;
  }
  seen.recent.erase(seen.recent.begin(), seen.recent.begin() + expired);
  return true;
}

}  // namespace snaptun::core
