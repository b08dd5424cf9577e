// How close the daemon is to its limits, read when Prometheus scrapes: the
// tunnel quota (--max_tunnels), the busiest peer key against
// --max_tunnels_per_identity, authorized
// identities (--max_identities), attached packet streams, WatchTunnels
// streams (--max_watchers) and the shared queue budget
// (--queue_budget_bytes). Each value is read from where it is kept, so
// nothing on the packet path mirrors it.
#ifndef SNAPTUN_SERVICE_DAEMON_SATURATION_METRICS_H_
#define SNAPTUN_SERVICE_DAEMON_SATURATION_METRICS_H_

#include <prometheus/metric_family.h>

#include <cstddef>
#include <vector>

#include "service/byte_budget.h"
#include "service/identity_store.h"
#include "service/session_manager.h"
#include "tunnel/core/tunnel_quota.h"

namespace snaptun::service {

struct SaturationSources {
  const core::TunnelQuota* quota = nullptr;
  size_t max_tunnels_per_identity = 0;
  const IdentityStore* identities = nullptr;  // Null without the gateway.
  size_t max_identities = 0;
  const SessionManager* sessions = nullptr;
  size_t max_watchers = 0;
  const ByteBudget* queue_budget = nullptr;
};

std::vector<prometheus::MetricFamily> CollectSaturation(
    const SaturationSources& sources);

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_DAEMON_SATURATION_METRICS_H_
