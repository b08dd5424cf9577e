// Filtering and the bounded event queue.
#include "service/event_subscription.h"

namespace snaptun::service {

bool EventSubscription::Matches(const TunnelSnapshot& tunnel) const {
  if (!tunnel_id_.empty() && tunnel.tunnel_id != tunnel_id_) return false;
  for (const auto& [key, value] : labels_) {
    auto it = tunnel.labels.find(key);
    if (it == tunnel.labels.end() || it->second != value) return false;
  }
  return true;
}

bool EventSubscription::Push(SessionEvent event) {
  absl::MutexLock lock(&mu_);
  if (overflowed_) return false;
  if (queue_.size() >= capacity_) {
    overflowed_ = true;
    return false;
  }
  queue_.push_back(std::move(event));
  return true;
}

std::optional<SessionEvent> EventSubscription::Pop() {
  absl::MutexLock lock(&mu_);
  if (queue_.empty()) return std::nullopt;
  SessionEvent event = std::move(queue_.front());
  queue_.pop_front();
  return event;
}

bool EventSubscription::overflowed() const {
  absl::MutexLock lock(&mu_);
  return overflowed_;
}

void EventSubscription::SetReady(std::function<void()> ready) {
  absl::MutexLock lock(&mu_);
  ready_ = std::move(ready);
}

void EventSubscription::NotifyReady() {
  std::function<void()> ready;
  {
    absl::MutexLock lock(&mu_);
    ready = ready_;
  }
  if (ready) ready();
}

}  // namespace snaptun::service
