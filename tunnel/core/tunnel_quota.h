// The daemon-wide tunnel limit as one count shared by both roles: client
// opens and the gateway's tables (on every worker) take a slot per tunnel
// and give it back when the tunnel goes, so `--max_tunnels` bounds their
// sum. Lock-free; any thread.
#ifndef SNAPTUN_TUNNEL_CORE_TUNNEL_QUOTA_H_
#define SNAPTUN_TUNNEL_CORE_TUNNEL_QUOTA_H_

#include <atomic>
#include <cstddef>

namespace snaptun::core {

class TunnelQuota {
 public:
  explicit TunnelQuota(size_t limit) : limit_(limit) {}
  TunnelQuota(const TunnelQuota&) = delete;
  TunnelQuota& operator=(const TunnelQuota&) = delete;

  // Takes a slot if one is free.
  bool TryAcquire() {
    size_t held = held_.load(std::memory_order_relaxed);
    do {
      if (held >= limit_) return false;
    } while (!held_.compare_exchange_weak(held, held + 1,
                                          std::memory_order_relaxed));
    return true;
  }
  void Release() { held_.fetch_sub(1, std::memory_order_relaxed); }

  size_t held() const { return held_.load(std::memory_order_relaxed); }
  size_t limit() const { return limit_; }

 private:
  const size_t limit_;
  std::atomic<size_t> held_{0};
};

}  // namespace snaptun::core

#endif  // SNAPTUN_TUNNEL_CORE_TUNNEL_QUOTA_H_
