// A GatewayObserver for tests: keeps the ports of accepted tunnels and the
// removals, and lets a test wait for them with a bound.
#ifndef SNAPTUN_TESTS_INTEGRATION_GATEWAY_RECORDER_H_
#define SNAPTUN_TESTS_INTEGRATION_GATEWAY_RECORDER_H_

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "service/gateway_observer.h"

namespace snaptun::testing {

class GatewayRecorder : public service::GatewayObserver {
 public:
  void OnTunnelAccepted(const service::GatewayTunnelInfo& info,
                        std::shared_ptr<service::TunnelPort> port) override {
    absl::MutexLock lock(&mu_);
    ports_[info.remote] = std::move(port);
    ++accepted_;
  }
  void OnTunnelRemoved(const service::GatewayTunnelInfo& info,
                       core::RemovalReason reason) override {
    absl::MutexLock lock(&mu_);
    removals_.push_back(reason);
  }

  // The port of the tunnel from `remote`, waiting up to `timeout`.
  std::shared_ptr<service::TunnelPort> WaitForPort(const core::Endpoint& remote,
                                                   absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto present = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return ports_.contains(remote);
    };
    mu_.AwaitWithTimeout(absl::Condition(&present), timeout);
    auto it = ports_.find(remote);
    return it == ports_.end() ? nullptr : it->second;
  }
  // Any one accepted port, waiting up to `timeout`.
  std::shared_ptr<service::TunnelPort> WaitForAny(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto present = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return !ports_.empty();
    };
    mu_.AwaitWithTimeout(absl::Condition(&present), timeout);
    return ports_.empty() ? nullptr : ports_.begin()->second;
  }
  bool WaitForRemoval(core::RemovalReason reason, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto seen = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      for (core::RemovalReason r : removals_) {
        if (r == reason) return true;
      }
      return false;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&seen), timeout);
  }
  size_t accepted() {
    absl::MutexLock lock(&mu_);
    return accepted_;
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<core::Endpoint, std::shared_ptr<service::TunnelPort>>
      ports_ ABSL_GUARDED_BY(mu_);
  std::vector<core::RemovalReason> removals_ ABSL_GUARDED_BY(mu_);
  size_t accepted_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace snaptun::testing

#endif  // SNAPTUN_TESTS_INTEGRATION_GATEWAY_RECORDER_H_
