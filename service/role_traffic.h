// A role's traffic as a view of its tunnels' own counts, so that each packet
// is counted once: on its tunnel's port (TunnelCounters). The role's total
// is, per worker, what the tunnels that closed there carried plus what each
// live tunnel's port says now; counts with no tunnel (a datagram no tunnel
// claims) stay in the role's metric cells (dataplane_metrics.h).
//
// The owners of live tunnels on a worker (gateway shards, client drivers)
// join that worker's share and add their ports when asked; an owner adds a
// port's counts to the share's retired sum when the port closes (a shard)
// or when it leaves (a driver, when it is destroyed). Both happen on the
// worker, and so does the sum: Total visits every worker, where the share
// adds its retired sum and its owners' ports in one step, so a port is never
// counted both live and retired, nor missed between the two, and a share's
// sum never goes back. A visit a worker has not run in time (a scrape's
// bound) leaves that share's last sum in the total, which is older but
// never lower.
//
// Threads: ShareOn is any thread's; Join, Leave and Retire are the share's
// worker's loop thread's (or any thread's once that loop has finished);
// Total is for any thread but a worker's or a gRPC callback's (it waits for
// the workers).
#ifndef SNAPTUN_SERVICE_ROLE_TRAFFIC_H_
#define SNAPTUN_SERVICE_ROLE_TRAFFIC_H_

#include <map>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "service/tunnel_port.h"
#include "service/worker.h"

namespace snaptun::service {

class RoleTraffic {
 public:
  // What holds live tunnels on a worker.
  class Owner {
   public:
    virtual ~Owner() = default;
    // Adds the counts of every port it holds open.
    virtual void AddLiveCounts(CountersSnapshot& total) const = 0;
  };

  // The role on one worker.
  class Share {
   public:
    explicit Share(Worker& worker) : worker_(worker) {}
    void Join(const Owner* owner);
    // The owner's open ports' counts move to the retired sum as it leaves,
    // in one step: call it before the ports go.
    void Leave(const Owner* owner);
    // A port closed for good: its counts move here from its owner's.
    void Retire(const TunnelCounters& counters);
    // On the worker: what closed here plus what every owner holds now
    // becomes the share's last sum.
    void Visit();
    // True when a visit should be posted: none is queued yet, or `always`.
    bool QueueVisit(bool always);
    // Adds the last sum a visit made.
    void AddLast(CountersSnapshot& total) const;
    Worker& worker() const { return worker_; }

   private:
    Worker& worker_;
    // Uncontended: the loop thread, or a thread tearing the worker down.
    mutable absl::Mutex mu_;
    CountersSnapshot retired_ ABSL_GUARDED_BY(mu_);
    absl::flat_hash_set<const Owner*> owners_ ABSL_GUARDED_BY(mu_);
    CountersSnapshot last_ ABSL_GUARDED_BY(mu_);
    bool visit_queued_ ABSL_GUARDED_BY(mu_) = false;
  };

  RoleTraffic() = default;
  RoleTraffic(const RoleTraffic&) = delete;
  RoleTraffic& operator=(const RoleTraffic&) = delete;

  // The role's share on `worker`, made on first use. Resolve it once per
  // owner, not per packet; an owner holds it, so an owner destroyed after
  // the role's metrics (a resident swept late) still has it.
  std::shared_ptr<Share> ShareOn(Worker& worker);
  // The sum over every worker's share, visiting all workers at once and
  // waiting up to `wait` for them; a worker that did not answer in time
  // counts with its last sum. Every worker with a share must still exist
  // (it may have stopped).
  CountersSnapshot Total(absl::Duration wait = absl::InfiniteDuration()) const;

 private:
  mutable absl::Mutex mu_;
  std::map<const Worker*, std::shared_ptr<Share>> shares_ ABSL_GUARDED_BY(mu_);
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_ROLE_TRAFFIC_H_
