// Recently closed tunnels, bounded by count and age.
#include "service/closed_tunnels.h"

namespace snaptun::service {

void ClosedTunnels::Add(TunnelSnapshot snapshot, absl::Time now) {
  if (max_ == 0) return;
  const std::string id = snapshot.tunnel_id;
  by_id_[id] = Entry{std::move(snapshot), now};
  order_.emplace_back(now, id);
  Trim(now);
}

void ClosedTunnels::Trim(absl::Time now) {
  while (!order_.empty() &&
         (by_id_.size() > max_ || now - order_.front().first > retention_ ||
          order_.size() > 2 * max_)) {
    const auto [at, id] = order_.front();
    order_.pop_front();
    auto it = by_id_.find(id);
    if (it != by_id_.end() && it->second.closed_at == at) by_id_.erase(it);
  }
}

const TunnelSnapshot* ClosedTunnels::Find(const std::string& id,
                                          absl::Time now) const {
  auto it = by_id_.find(id);
  if (it == by_id_.end() || now - it->second.closed_at > retention_) {
    return nullptr;
  }
  return &it->second.snapshot;
}

std::vector<const TunnelSnapshot*> ClosedTunnels::After(
    const std::string& after, absl::Time now) const {
  std::vector<const TunnelSnapshot*> out;
  auto it = after.empty() ? by_id_.begin() : by_id_.upper_bound(after);
  for (; it != by_id_.end(); ++it) {
    if (now - it->second.closed_at <= retention_) {
      out.push_back(&it->second.snapshot);
    }
  }
  return out;
}

}  // namespace snaptun::service
