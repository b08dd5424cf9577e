// One WatchTunnels subscriber: a filter (one tunnel id, or labels that must
// all match) and a bounded queue of events. The manager pushes; the stream
// pops one event per write. The queue is bounded in events and in bytes (an
// event's snapshot is shared by every subscriber, but each is charged for it
// in full, so the bound holds whatever the others do). A subscriber that
// falls further behind is marked overflowed and its stream ends, rather than
// buffering without bound or silently skipping state changes.
//
// With include_existing, the existing tunnels are not queued up front: the
// subscription keeps a cursor into the manager's ordered tunnel ids, and the
// stream asks the manager for the next one as it writes (see
// SessionManager::NextEvent), so a watcher of 100 000 tunnels holds one id.
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

struct SubscriptionLimits {
  size_t events = 4096;
  size_t bytes = size_t{1} << 20;
};

class EventSubscription {
 public:
  EventSubscription(std::string tunnel_id,
                    std::map<std::string, std::string> labels,
                    SubscriptionLimits limits, bool replay_existing)
      : tunnel_id_(std::move(tunnel_id)),
        labels_(std::move(labels)),
        limits_(limits),
        replaying_(replay_existing) {}

  // What an event is charged against the byte limit.
  static size_t Cost(const SessionEvent& event);

  bool Matches(const TunnelSnapshot& tunnel) const;
  // Queues `event`; false when the queue was full (the subscription is then
  // overflowed for good).
  bool Push(SessionEvent event);
  std::optional<SessionEvent> Pop();
  bool overflowed() const;
  // The daemon drains: the stream ends once it has written what is queued.
  void End();
  bool ended() const;
  size_t bytes_held() const;
  // Called after a Push that made the queue non-empty, outside any lock of
  // the manager.
  void SetReady(std::function<void()> ready);
  void NotifyReady();

  // The replay of existing tunnels: still under way, and the last id sent.
  bool replaying() const;
  const std::string& replay_cursor() const;
  void AdvanceReplay(std::string id);
  void EndReplay();

 private:
  const std::string tunnel_id_;
  const std::map<std::string, std::string> labels_;
  const SubscriptionLimits limits_;
  mutable absl::Mutex mu_;
  core::Fifo<SessionEvent> queue_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool overflowed_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> ready_ ABSL_GUARDED_BY(mu_);
  // Touched only by the one stream that pops.
  bool replaying_;
  std::string replay_cursor_;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_EVENT_SUBSCRIPTION_H_
