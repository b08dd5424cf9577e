// The standard process metrics every Prometheus client exports, read from
// /proc at scrape time: CPU seconds, resident and virtual memory, open and
// maximum file descriptors, start time.
#ifndef SNAPTUN_METRICS_PROCESS_METRICS_H_
#define SNAPTUN_METRICS_PROCESS_METRICS_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

namespace snaptun::metrics {

class ProcessMetrics final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace snaptun::metrics

#endif  // SNAPTUN_METRICS_PROCESS_METRICS_H_
