// A first-in, first-out queue that owns no memory while empty. Tunnels keep
// several queues that are empty nearly all the time (payloads waiting for a
// handshake, a port's two directions); std::deque allocates over half a
// kilobyte even when empty, which at a hundred thousand idle tunnels is most
// of the gateway's memory. A queue that drains gives back a large buffer.
#ifndef SNAPTUN_TUNNEL_CORE_FIFO_H_
#define SNAPTUN_TUNNEL_CORE_FIFO_H_

#include <cstddef>
#include <utility>
#include <vector>

namespace snaptun::core {

template <typename T>
class Fifo {
 public:
  bool empty() const { return head_ == items_.size(); }
  size_t size() const { return items_.size() - head_; }
  T& front() { return items_[head_]; }
  const T& front() const { return items_[head_]; }

  void push_back(T value) { items_.push_back(std::move(value)); }
  template <typename... Args>
  void emplace_back(Args&&... args) {
    items_.emplace_back(std::forward<Args>(args)...);
  }
  void pop_front() {
    items_[head_] = T();
    if (++head_ == items_.size()) {
      clear();
    } else if (head_ >= kCompactAfter && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + head_);
      head_ = 0;
    }
  }
  void clear() {
    head_ = 0;
    if (items_.capacity() > kKeepCapacity) {
      std::vector<T>().swap(items_);
    } else {
      items_.clear();
    }
  }

 private:
  static constexpr size_t kCompactAfter = 64;
  static constexpr size_t kKeepCapacity = 64;

  std::vector<T> items_;
  size_t head_ = 0;
};

}  // namespace snaptun::core

#endif  // SNAPTUN_TUNNEL_CORE_FIFO_H_
