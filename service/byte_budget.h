// A byte allowance shared by many queues: every tunnel port charges the
// payloads it holds against one budget, so the daemon's queued packets stay
// under one limit however many tunnels there are and whatever their peers
// send. Refusals are counted. Lock-free; any thread.
#ifndef SNAPTUN_SERVICE_BYTE_BUDGET_H_
#define SNAPTUN_SERVICE_BYTE_BUDGET_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace snaptun::service {

class ByteBudget {
 public:
  explicit ByteBudget(size_t limit) : limit_(limit) {}
  ByteBudget(const ByteBudget&) = delete;
  ByteBudget& operator=(const ByteBudget&) = delete;

  // Takes `bytes` if they fit; otherwise counts a refusal and returns false.
  bool TryTake(size_t bytes);
  void Give(size_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

  size_t limit() const { return limit_; }
  size_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  const size_t limit_;
  std::atomic<size_t> used_{0};
  std::atomic<uint64_t> refused_{0};
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_BYTE_BUDGET_H_
