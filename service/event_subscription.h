// One WatchTunnels subscriber: a filter (one tunnel id, or labels that must
// all match) and a bounded queue of events. The manager pushes; the stream
// pops one event per write. A subscriber that falls more than `capacity`
// events behind is marked overflowed and its stream ends, rather than
// buffering without bound or silently skipping state changes.
#ifndef SNAPTUN_SERVICE_EVENT_SUBSCRIPTION_H_
#define SNAPTUN_SERVICE_EVENT_SUBSCRIPTION_H_

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "service/session.h"
#include "tunnel/core/fifo.h"

namespace snaptun::service {

class EventSubscription {
 public:
  EventSubscription(std::string tunnel_id,
                    std::map<std::string, std::string> labels, size_t capacity)
      : tunnel_id_(std::move(tunnel_id)),
        labels_(std::move(labels)),
        capacity_(capacity) {}

  bool Matches(const TunnelSnapshot& tunnel) const;
  // Queues `event`; false when the queue was full (the subscription is then
  // overflowed for good).
  bool Push(SessionEvent event);
  std::optional<SessionEvent> Pop();
  bool overflowed() const;
  // Called after a Push that made the queue non-empty, outside any lock of
  // the manager.
  void SetReady(std::function<void()> ready);
  void NotifyReady();

 private:
  const std::string tunnel_id_;
  const std::map<std::string, std::string> labels_;
  const size_t capacity_;
  mutable absl::Mutex mu_;
  core::Fifo<SessionEvent> queue_ ABSL_GUARDED_BY(mu_);
  bool overflowed_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> ready_ ABSL_GUARDED_BY(mu_);
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_EVENT_SUBSCRIPTION_H_
