// Filtering, the bounded event queue and the replay cursor.
#include "service/event_subscription.h"

namespace snaptun::service {

size_t EventSubscription::Cost(const SessionEvent& event) {
  size_t bytes = sizeof(SessionEvent) + event.reason.size();
  if (event.tunnel != nullptr) {
    const TunnelSnapshot& t = *event.tunnel;
    bytes += sizeof(TunnelSnapshot) + t.tunnel_id.size() +
             t.remote_address.size() + t.local_address.size() +
             t.close_reason.size() + t.control_plane_url.size();
    for (const auto& [key, value] : t.labels) {
      bytes += key.size() + value.size() + 64;  // The map node.
    }
  }
  return bytes;
}

bool EventSubscription::Matches(const TunnelSnapshot& tunnel) const {
  if (!tunnel_id_.empty() && tunnel.tunnel_id != tunnel_id_) return false;
  for (const auto& [key, value] : labels_) {
    auto it = tunnel.labels.find(key);
    if (it == tunnel.labels.end() || it->second != value) return false;
  }
  return true;
}

bool EventSubscription::Push(SessionEvent event) {
  const size_t cost = Cost(event);
  absl::MutexLock lock(&mu_);
  if (overflowed_) return false;
  if (queue_.size() >= limits_.events || bytes_ + cost > limits_.bytes) {
    overflowed_ = true;
    return false;
  }
  bytes_ += cost;
  queue_.push_back(std::move(event));
  return true;
}

std::optional<SessionEvent> EventSubscription::Pop() {
  absl::MutexLock lock(&mu_);
  if (queue_.empty()) return std::nullopt;
  SessionEvent event = std::move(queue_.front());
  queue_.pop_front();
  bytes_ -= Cost(event);
  return event;
}

bool EventSubscription::overflowed() const {
  absl::MutexLock lock(&mu_);
  return overflowed_;
}

void EventSubscription::End() {
  {
    absl::MutexLock lock(&mu_);
    ended_ = true;
  }
  NotifyReady();
}

bool EventSubscription::ended() const {
  absl::MutexLock lock(&mu_);
  return ended_;
}

size_t EventSubscription::bytes_held() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
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

bool EventSubscription::replaying() const { return replaying_; }

const std::string& EventSubscription::replay_cursor() const {
  return replay_cursor_;
}

void EventSubscription::AdvanceReplay(std::string id) {
  replay_cursor_ = std::move(id);
}

void EventSubscription::EndReplay() {
  replaying_ = false;
  replay_cursor_.clear();
}

}  // namespace snaptun::service
