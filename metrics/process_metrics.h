// The standard process metrics every Prometheus client exports, read from
// /proc at scrape time: CPU seconds, resident and virtual memory, open and
// maximum file descriptors, start time.
#ifndef SNAPTUN_METRICS_PROCESS_METRICS_H_
#define SNAPTUN_METRICS_PROCESS_METRICS_H_

#include <vector>

#include "metrics/registry.h"

namespace snaptun::metrics {

std::vector<FamilySnapshot> CollectProcessMetrics();

}  // namespace snaptun::metrics

#endif  // SNAPTUN_METRICS_PROCESS_METRICS_H_
