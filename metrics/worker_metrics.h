// Counters and histograms that the packet path bumps, counted in cells local
// to each worker and summed only when Prometheus scrapes.
//
// prometheus-cpp 1.0's Counter is one atomic double that every writer
// updates with a compare-and-swap loop; two workers counting the same series
// per packet make its cache line bounce between cores, which costs several
// percent of a small packet's seal (bench/metrics_bench, docs/PERFORMANCE.md).
// These series keep one cache-line-sized cell per worker instead, and
// WorkerMetrics exposes them to the exporter as a prometheus::Collectable,
// next to the library's own Registry that holds every other series.
//
// The packet path never looks anything up: a caller resolves each series once
// (WorkerFamily::Add returns a reference that lives as long as the
// WorkerMetrics) and then bumps it from its worker.
#ifndef SNAPTUN_METRICS_WORKER_METRICS_H_
#define SNAPTUN_METRICS_WORKER_METRICS_H_

#include <prometheus/collectable.h>
#include <prometheus/labels.h>
#include <prometheus/metric_family.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace snaptun::metrics {

using Labels = prometheus::Labels;

// Cells per series. Writers beyond it share cells: still correct, since the
// adds are atomic, only slower.
inline constexpr size_t kWorkerCells = 16;

// A counter that workers bump in their cells. It may also be a view in part:
// what a collect's refresh (WorkerMetrics::AddRefresh) reads elsewhere and
// sets, such as the sum of the live tunnels' own counts. Its value is both.
class WorkerCounter {
 public:
  void Increment(uint64_t by, size_t worker) {
    cells_[worker % kWorkerCells].value.fetch_add(by,
                                                  std::memory_order_relaxed);
  }
  // The cells and the view.
  uint64_t Value() const { return Counted() + view_.load(); }
  // The cells alone.
  uint64_t Counted() const;
  // From a refresh: the part counted elsewhere, as of now.
  void SetView(uint64_t value) { view_.store(value); }

 private:
  struct alignas(64) Cell {
    std::atomic<uint64_t> value{0};
  };
  std::array<Cell, kWorkerCells> cells_;
  std::atomic<uint64_t> view_{0};
};

class WorkerHistogram {
 public:
  // Upper bounds, strictly increasing; +Inf is implicit.
  explicit WorkerHistogram(std::vector<double> bounds);
  void Observe(double value, size_t worker);

  // Cumulative bucket counts, one per bound and then +Inf, with sum and count.
  prometheus::ClientMetric::Histogram Snapshot() const;

 private:
  struct alignas(64) Cell {
    std::unique_ptr<std::atomic<uint64_t>[]> buckets;
    std::atomic<double> sum{0};
  };
  const std::vector<double> bounds_;
  std::array<Cell, kWorkerCells> cells_;
};

// One metric family of worker-counted series.
template <typename T>
class WorkerFamily {
 public:
  using Factory = std::function<std::unique_ptr<T>()>;
  WorkerFamily(std::string name, std::string help, Factory factory)
      : name_(std::move(name)),
        help_(std::move(help)),
        factory_(std::move(factory)) {}

  // The series with these labels, created on first use and valid as long as
  // the family. Not for the packet path: resolve once.
  T& Add(const Labels& labels) {
    absl::MutexLock lock(&mu_);
    std::unique_ptr<T>& series = series_[labels];
    if (series == nullptr) series = factory_();
    return *series;
  }

  prometheus::MetricFamily Collect() const;

 private:
  const std::string name_;
  const std::string help_;
  const Factory factory_;
  mutable absl::Mutex mu_;
  std::map<Labels, std::unique_ptr<T>> series_ ABSL_GUARDED_BY(mu_);
};

// Every worker-counted family of a process, collected together.
class WorkerMetrics final : public prometheus::Collectable {
 public:
  WorkerFamily<WorkerCounter>& AddCounter(const std::string& name,
                                          const std::string& help);
  WorkerFamily<WorkerHistogram>& AddHistogram(const std::string& name,
                                              const std::string& help,
                                              std::vector<double> bounds);

  // `refresh` runs at the start of every collect, before any series is
  // read, to set the series that are views (WorkerCounter::SetView).
  // Collects run one at a time, so views never go back. Returns the id
  // that RemoveRefresh takes.
  int AddRefresh(std::function<void()> refresh);
  void RemoveRefresh(int id);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  // Held for a whole collect; taken before mu_.
  mutable absl::Mutex collect_mu_;
  absl::flat_hash_map<int, std::function<void()>> refreshes_
      ABSL_GUARDED_BY(collect_mu_);
  int next_refresh_ ABSL_GUARDED_BY(collect_mu_) = 0;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<WorkerFamily<WorkerCounter>>> counters_
      ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<WorkerFamily<WorkerHistogram>>> histograms_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace snaptun::metrics

#endif  // SNAPTUN_METRICS_WORKER_METRICS_H_
