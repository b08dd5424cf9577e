// Summing worker cells into prometheus-cpp's MetricFamily at scrape time.
#include "metrics/worker_metrics.h"

#include <prometheus/client_metric.h>
#include <prometheus/metric_type.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <limits>
#include <type_traits>

namespace snaptun::metrics {
namespace {

void AddDouble(std::atomic<double>& target, double by) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + by,
                                       std::memory_order_relaxed)) {
  }
}

std::vector<prometheus::ClientMetric::Label> LabelList(const Labels& labels) {
  std::vector<prometheus::ClientMetric::Label> out;
  out.reserve(labels.size());
  for (const auto& [name, value] : labels) out.push_back({name, value});
  return out;
}

void Fill(const WorkerCounter& series, prometheus::ClientMetric& metric) {
  metric.counter.value = static_cast<double>(series.Value());
}

void Fill(const WorkerHistogram& series, prometheus::ClientMetric& metric) {
  metric.histogram = series.Snapshot();
}

template <typename T>
constexpr prometheus::MetricType TypeOf() {
  return std::is_same_v<T, WorkerCounter> ? prometheus::MetricType::Counter
                                          : prometheus::MetricType::Histogram;
}

}  // namespace

uint64_t WorkerCounter::Counted() const {
  uint64_t total = 0;
  for (const Cell& cell : cells_) {
    total += cell.value.load(std::memory_order_relaxed);
  }
  return total;
}

WorkerHistogram::WorkerHistogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)) {
  // Bounds are constants of the code; unsorted ones are a programming error.
  if (std::adjacent_find(bounds_.begin(), bounds_.end(),
                         std::greater_equal<double>()) != bounds_.end()) {
    std::abort();
  }
  for (Cell& cell : cells_) {
    cell.buckets.reset(new std::atomic<uint64_t>[bounds_.size() + 1]);
    for (size_t i = 0; i <= bounds_.size(); ++i) cell.buckets[i] = 0;
  }
}

void WorkerHistogram::Observe(double value, size_t worker) {
  Cell& cell = cells_[worker % kWorkerCells];
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) -
      bounds_.begin());
  cell.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  AddDouble(cell.sum, value);
}

prometheus::ClientMetric::Histogram WorkerHistogram::Snapshot() const {
  prometheus::ClientMetric::Histogram out;
  std::vector<uint64_t> per_bucket(bounds_.size() + 1, 0);
  for (const Cell& cell : cells_) {
    for (size_t i = 0; i < per_bucket.size(); ++i) {
      per_bucket[i] += cell.buckets[i].load(std::memory_order_relaxed);
    }
    out.sample_sum += cell.sum.load(std::memory_order_relaxed);
  }
  uint64_t running = 0;
  for (size_t i = 0; i < per_bucket.size(); ++i) {
    running += per_bucket[i];
    out.bucket.push_back(
        {running, i < bounds_.size()
                      ? bounds_[i]
                      : std::numeric_limits<double>::infinity()});
  }
  out.sample_count = running;
  return out;
}

template <typename T>
prometheus::MetricFamily WorkerFamily<T>::Collect() const {
  prometheus::MetricFamily family;
  family.name = name_;
  family.help = help_;
  family.type = TypeOf<T>();
  absl::MutexLock lock(&mu_);
  family.metric.reserve(series_.size());
  for (const auto& [labels, series] : series_) {
    prometheus::ClientMetric metric;
    metric.label = LabelList(labels);
    Fill(*series, metric);
    family.metric.push_back(std::move(metric));
  }
  return family;
}

template class WorkerFamily<WorkerCounter>;
template class WorkerFamily<WorkerHistogram>;

WorkerFamily<WorkerCounter>& WorkerMetrics::AddCounter(
    const std::string& name, const std::string& help) {
  absl::MutexLock lock(&mu_);
  counters_.push_back(std::make_unique<WorkerFamily<WorkerCounter>>(
      name, help, [] { return std::make_unique<WorkerCounter>(); }));
  return *counters_.back();
}

WorkerFamily<WorkerHistogram>& WorkerMetrics::AddHistogram(
    const std::string& name, const std::string& help,
    std::vector<double> bounds) {
  absl::MutexLock lock(&mu_);
  histograms_.push_back(std::make_unique<WorkerFamily<WorkerHistogram>>(
      name, help,
      [bounds] { return std::make_unique<WorkerHistogram>(bounds); }));
  return *histograms_.back();
}

int WorkerMetrics::AddRefresh(std::function<void()> refresh) {
  absl::MutexLock lock(&collect_mu_);
  refreshes_.emplace(next_refresh_, std::move(refresh));
  return next_refresh_++;
}

void WorkerMetrics::RemoveRefresh(int id) {
  absl::MutexLock lock(&collect_mu_);
  refreshes_.erase(id);
}

std::vector<prometheus::MetricFamily> WorkerMetrics::Collect() const {
  absl::MutexLock collecting(&collect_mu_);
  for (const auto& [id, refresh] : refreshes_) refresh();
  std::vector<prometheus::MetricFamily> out;
  absl::MutexLock lock(&mu_);
  for (const auto& family : counters_) out.push_back(family->Collect());
  for (const auto& family : histograms_) out.push_back(family->Collect());
  return out;
}

}  // namespace snaptun::metrics
