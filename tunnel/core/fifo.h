// A first-in, first-out queue that owns nothing until first used. Tunnels keep
// several queues that are empty nearly all the time (payloads waiting for a
// handshake, a port's two directions); std::deque allocates over half a
// kilobyte even when empty, which at a hundred thousand idle tunnels is most
// of the gateway's memory. A queue that never held anything is one pointer;
// a queue that drains gives back a large buffer.
#ifndef SNAPTUN_TUNNEL_CORE_FIFO_H_
#define SNAPTUN_TUNNEL_CORE_FIFO_H_

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace snaptun::core {

template <typename T>
class Fifo {
 public:
  bool empty() const { return size() == 0; }
  size_t size() const {
    return store_ == nullptr ? 0 : store_->items.size() - store_->head;
  }
  T& front() { return store_->items[store_->head]; }
  const T& front() const { return store_->items[store_->head]; }

  void push_back(T value) { emplace_back(std::move(value)); }
  template <typename... Args>
  void emplace_back(Args&&... args) {
    if (store_ == nullptr) store_ = std::make_unique<Store>();
    store_->items.emplace_back(std::forward<Args>(args)...);
  }
  void pop_front() {
    Store& s = *store_;
    s.items[s.head] = T();
    if (++s.head == s.items.size()) {
      clear();
    } else if (s.head >= kCompactAfter && s.head * 2 >= s.items.size()) {
      s.items.erase(s.items.begin(), s.items.begin() + s.head);
      s.head = 0;
    }
  }
  void clear() {
    if (store_ == nullptr) return;
    if (store_->items.capacity() > kKeepCapacity) {
      store_.reset();
    } else {
      store_->items.clear();
      store_->head = 0;
    }
  }

 private:
  static constexpr size_t kCompactAfter = 64;
  static constexpr size_t kKeepCapacity = 64;

  // Allocated by the first push: an idle queue is one null pointer.
  struct Store {
    std::vector<T> items;
    size_t head = 0;
  };
  std::unique_ptr<Store> store_;
};

}  // namespace snaptun::core

#endif  // SNAPTUN_TUNNEL_CORE_FIFO_H_
