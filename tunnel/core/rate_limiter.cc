// Windowed per-source and global handshake counting.
#include "tunnel/core/rate_limiter.h"

#include <algorithm>

namespace snaptun::core {

HandshakeRateLimiter::Decision HandshakeRateLimiter::Admit(
    absl::Time now, const Endpoint& source) {
  if (now - window_start_ >= absl::Seconds(1) || now < window_start_) {
    counts_.clear();
    total_ = 0;
    window_start_ = now;
  }
  ++total_;
  SourceKey key = source.address();
  if (!source.is_ipv4()) std::fill(key.begin() + 8, key.end(), 0);  // /64.
  auto it = counts_.find(key);
  if (it == counts_.end()) {
    if (counts_.size() >= config_.max_sources) return Decision::kNeedCookie;
    it = counts_.emplace(key, 0).first;
  }
  const uint32_t count = ++it->second;
  if (count > config_.per_source_hard) return Decision::kDrop;
  if (count > config_.per_source_soft || total_ > config_.global_soft) {
    return Decision::kNeedCookie;
  }
  return Decision::kAccept;
}

}  // namespace snaptun::core
