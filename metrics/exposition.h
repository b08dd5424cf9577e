// What /metrics serves: an ordered list of prometheus::Collectable (the
// library's Registry, the worker-counted families, the process metrics and
// families computed at scrape time), serialized by prometheus-cpp's
// TextSerializer. Collecting and serializing are the library's; this only
// keeps the list.
#ifndef SNAPTUN_METRICS_EXPOSITION_H_
#define SNAPTUN_METRICS_EXPOSITION_H_

#include <prometheus/collectable.h>
#include <prometheus/labels.h>
#include <prometheus/metric_family.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace snaptun::metrics {

inline constexpr char kTextContentType[] =
    "text/plain; version=0.0.4; charset=utf-8";

class Exposition {
 public:
  void Add(std::shared_ptr<const prometheus::Collectable> collectable);

  // Every family of every collectable, in the order they were added.
  std::vector<prometheus::MetricFamily> Collect() const;
  // The text format 0.0.4.
  std::string Render() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<const prometheus::Collectable>> collectables_
      ABSL_GUARDED_BY(mu_);
};

// Families computed by a function when Prometheus scrapes: values that live
// elsewhere (a budget, a table size) and are read, not mirrored.
class FunctionCollectable final : public prometheus::Collectable {
 public:
  using Function = std::function<std::vector<prometheus::MetricFamily>()>;
  explicit FunctionCollectable(Function function)
      : function_(std::move(function)) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    return function_();
  }

 private:
  const Function function_;
};

// A family of gauges (or counters) with the given series, for collectors.
prometheus::MetricFamily GaugeFamily(
    std::string name, std::string help,
    const std::vector<std::pair<prometheus::Labels, double>>& series);
prometheus::MetricFamily CounterFamily(
    std::string name, std::string help,
    const std::vector<std::pair<prometheus::Labels, double>>& series);

}  // namespace snaptun::metrics

#endif  // SNAPTUN_METRICS_EXPOSITION_H_
