// Shares per worker, summed on each worker in turn.
#include "service/role_traffic.h"

#include <vector>

namespace snaptun::service {

void RoleTraffic::Share::Join(const Owner* owner) {
  absl::MutexLock lock(&mu_);
  owners_.insert(owner);
}

void RoleTraffic::Share::Leave(const Owner* owner) {
  absl::MutexLock lock(&mu_);
  owners_.erase(owner);
}

void RoleTraffic::Share::Retire(const TunnelCounters& counters) {
  absl::MutexLock lock(&mu_);
  counters.AddTo(retired_);
}

void RoleTraffic::Share::AddTo(CountersSnapshot& total) const {
  absl::MutexLock lock(&mu_);
  total.Add(retired_);
  for (const Owner* owner : owners_) owner->AddLiveCounts(total);
}

std::shared_ptr<RoleTraffic::Share> RoleTraffic::ShareOn(Worker& worker) {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<Share>& share = shares_[&worker];
  if (share == nullptr) share = std::make_shared<Share>(worker);
  return share;
}

CountersSnapshot RoleTraffic::Total() const {
  std::vector<std::shared_ptr<Share>> shares;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [worker, share] : shares_) shares.push_back(share);
  }
  CountersSnapshot total;
  for (const std::shared_ptr<Share>& share : shares) {
    share->worker().RunAndWait([&total, share] { share->AddTo(total); });
  }
  return total;
}

}  // namespace snaptun::service
