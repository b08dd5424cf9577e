// Shares per worker, each summed on its worker, all workers at once.
#include "service/role_traffic.h"

#include <vector>

namespace snaptun::service {
namespace {

// The visits one Total posted and still waits for.
struct Visits {
  absl::Mutex mu;
  size_t pending ABSL_GUARDED_BY(mu) = 0;
};

}  // namespace

void RoleTraffic::Share::Join(const Owner* owner) {
  absl::MutexLock lock(&mu_);
  owners_.insert(owner);
}

void RoleTraffic::Share::Leave(const Owner* owner) {
  absl::MutexLock lock(&mu_);
  if (owners_.erase(owner) > 0) owner->AddLiveCounts(retired_);
}

void RoleTraffic::Share::Retire(const TunnelCounters& counters) {
  absl::MutexLock lock(&mu_);
  counters.AddTo(retired_);
}

void RoleTraffic::Share::Visit() {
  absl::MutexLock lock(&mu_);
  CountersSnapshot now = retired_;
  for (const Owner* owner : owners_) owner->AddLiveCounts(now);
  last_ = now;
  visit_queued_ = false;
}

bool RoleTraffic::Share::QueueVisit(bool always) {
  absl::MutexLock lock(&mu_);
  if (visit_queued_ && !always) return false;
  visit_queued_ = true;
  return true;
}

void RoleTraffic::Share::AddLast(CountersSnapshot& total) const {
  absl::MutexLock lock(&mu_);
  total.Add(last_);
}

std::shared_ptr<RoleTraffic::Share> RoleTraffic::ShareOn(Worker& worker) {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<Share>& share = shares_[&worker];
  if (share == nullptr) share = std::make_shared<Share>(worker);
  return share;
}

CountersSnapshot RoleTraffic::Total(absl::Duration wait) const {
  std::vector<std::shared_ptr<Share>> shares;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [worker, share] : shares_) shares.push_back(share);
  }
  auto visits = std::make_shared<Visits>();
  const bool bounded = wait != absl::InfiniteDuration();
  for (const std::shared_ptr<Share>& share : shares) {
    // A worker that has not run the last bounded visit yet gets no second.
    if (!share->QueueVisit(/*always=*/!bounded)) continue;
    {
      absl::MutexLock lock(&visits->mu);
      ++visits->pending;
    }
    share->worker().Run([share, visits] {
      share->Visit();
      absl::MutexLock lock(&visits->mu);
      --visits->pending;
    });
  }
  {
    absl::MutexLock lock(&visits->mu);
    visits->mu.AwaitWithTimeout(
        absl::Condition(
            +[](size_t* pending) { return *pending == 0; }, &visits->pending),
        wait);
  }
  CountersSnapshot total;
  for (const std::shared_ptr<Share>& share : shares) share->AddLast(total);
  return total;
}

}  // namespace snaptun::service
