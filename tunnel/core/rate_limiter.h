// Handshake admission under load, per source, in bounded memory. Each
// mac1-valid handshake message is counted against its source IP (IPv6 by
// /64) and against the listener as a whole, in one-second windows that roll
// over on their own clock (the reference reset its single global counter only
// from tunnel timers, so with no tunnels it stayed "under load", W14). Over
// the soft limit a message must carry a valid mac2 (cookie); over the hard
// limit it is dropped even with one.
#ifndef SNAPTUN_TUNNEL_CORE_RATE_LIMITER_H_
#define SNAPTUN_TUNNEL_CORE_RATE_LIMITER_H_

#include <array>
#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "tunnel/core/endpoint.h"

namespace snaptun::core {

struct RateLimiterConfig {
  // Handshake messages per second from one source before cookies apply.
  uint32_t per_source_soft = 20;
  // ... and after which they are dropped even with a valid cookie.
  uint32_t per_source_hard = 100;
  // Handshake messages per second in total before everyone needs cookies.
  uint32_t global_soft = 1000;
  // Sources tracked per window; beyond it new sources need cookies.
  size_t max_sources = 65536;
};

class HandshakeRateLimiter {
 public:
  enum class Decision : uint8_t {
    kAccept,      // Proceed without looking at mac2.
    kNeedCookie,  // Proceed only if mac2 is valid; else send a cookie.
    kDrop,        // Over the hard limit.
  };

  explicit HandshakeRateLimiter(const RateLimiterConfig& config = {})
      : config_(config) {}

  // Counts one mac1-valid handshake message from `source` at `now`.
  Decision Admit(absl::Time now, const Endpoint& source);

  size_t tracked_sources() const { return counts_.size(); }

 private:
  using SourceKey = std::array<uint8_t, 16>;

  const RateLimiterConfig config_;
  absl::flat_hash_map<SourceKey, uint32_t> counts_;
  absl::Time window_start_ = absl::InfinitePast();
  uint32_t total_ = 0;
};

}  // namespace snaptun::core

#endif  // SNAPTUN_TUNNEL_CORE_RATE_LIMITER_H_
