// The tunnels that closed recently, so GetTunnel, ListTunnels (state
// CLOSED) and CloseTunnel can still report what became of them and why.
// Bounded in count and in age (--closed_tunnel_max,
// --closed_tunnel_retention): the oldest are forgotten first. Not
// thread-safe; the session manager holds it under its lock.
#ifndef SNAPTUN_SERVICE_CLOSED_TUNNELS_H_
#define SNAPTUN_SERVICE_CLOSED_TUNNELS_H_

#include <cstddef>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "service/session.h"

namespace snaptun::service {

class ClosedTunnels {
 public:
  ClosedTunnels(size_t max, absl::Duration retention)
      : max_(max), retention_(retention) {}

  // Remembers `snapshot` (state CLOSED) as of `now`, replacing an earlier
  // tunnel of the same id.
  void Add(TunnelSnapshot snapshot, absl::Time now);
  // The closed tunnel `id`, unless forgotten by `now`.
  const TunnelSnapshot* Find(const std::string& id, absl::Time now) const;
  // Closed tunnels with ids after `after` (all when empty), in id order,
  // unless forgotten by `now`.
  std::vector<const TunnelSnapshot*> After(const std::string& after,
                                           absl::Time now) const;
  size_t size() const { return by_id_.size(); }

 private:
  struct Entry {
    TunnelSnapshot snapshot;
    absl::Time closed_at;
  };
  void Trim(absl::Time now);

  const size_t max_;
  const absl::Duration retention_;
  std::map<std::string, Entry> by_id_;
  // Ids in the order they closed; an id closed twice appears twice, and only
  // the entry whose time matches is forgotten.
  std::deque<std::pair<absl::Time, std::string>> order_;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_CLOSED_TUNNELS_H_
