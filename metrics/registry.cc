// Series storage and collection.
#include "metrics/registry.h"

#include <algorithm>

namespace snaptun::metrics {
namespace {

void AddDouble(std::atomic<double>& target, double by) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + by,
                                       std::memory_order_relaxed)) {
  }
}

}  // namespace

uint64_t Counter::Value() const {
  uint64_t total = 0;
  for (const Cell& cell : cells_) {
    total += cell.value.load(std::memory_order_relaxed);
  }
  return total;
}

void Gauge::Increment(double by) { AddDouble(value_, by); }

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  for (Cell& cell : cells_) {
    cell.buckets = std::vector<std::atomic<uint64_t>>(bounds_.size() + 1);
  }
}

void Histogram::Observe(double value, size_t shard) {
  Cell& cell = cells_[shard % kShards];
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) -
      bounds_.begin());
  cell.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  AddDouble(cell.sum, value);
}

Histogram::Snapshot Histogram::Collect() const {
  Snapshot snapshot;
  snapshot.bounds = bounds_;
  std::vector<uint64_t> per_bucket(bounds_.size() + 1, 0);
  for (const Cell& cell : cells_) {
    for (size_t i = 0; i < per_bucket.size(); ++i) {
      per_bucket[i] += cell.buckets[i].load(std::memory_order_relaxed);
    }
    snapshot.sum += cell.sum.load(std::memory_order_relaxed);
  }
  uint64_t running = 0;
  for (uint64_t n : per_bucket) {
    running += n;
    snapshot.cumulative.push_back(running);
  }
  snapshot.count = running;
  return snapshot;
}

template <>
FamilySnapshot Family<Counter>::Collect() const {
  FamilySnapshot out{name_, help_, type_, {}};
  absl::MutexLock lock(&mu_);
  for (const auto& [labels, series] : series_) {
    out.samples.push_back({labels, static_cast<double>(series->Value()), {}});
  }
  return out;
}

template <>
FamilySnapshot Family<Gauge>::Collect() const {
  FamilySnapshot out{name_, help_, type_, {}};
  absl::MutexLock lock(&mu_);
  for (const auto& [labels, series] : series_) {
    out.samples.push_back({labels, series->Value(), {}});
  }
  return out;
}

template <>
FamilySnapshot Family<Histogram>::Collect() const {
  FamilySnapshot out{name_, help_, type_, {}};
  absl::MutexLock lock(&mu_);
  for (const auto& [labels, series] : series_) {
    out.samples.push_back({labels, 0, series->Collect()});
  }
  return out;
}

Family<Counter>& Registry::AddCounter(const std::string& name,
                                      const std::string& help) {
  auto family = std::make_unique<Family<Counter>>(
      name, help, MetricType::kCounter,
      [] { return std::make_unique<Counter>(); });
  Family<Counter>& ref = *family;
  absl::MutexLock lock(&mu_);
  families_.push_back(std::move(family));
  return ref;
}

Family<Gauge>& Registry::AddGauge(const std::string& name,
                                  const std::string& help) {
  auto family = std::make_unique<Family<Gauge>>(
      name, help, MetricType::kGauge, [] { return std::make_unique<Gauge>(); });
  Family<Gauge>& ref = *family;
  absl::MutexLock lock(&mu_);
  families_.push_back(std::move(family));
  return ref;
}

Family<Histogram>& Registry::AddHistogram(const std::string& name,
                                          const std::string& help,
                                          std::vector<double> bounds) {
  auto family = std::make_unique<Family<Histogram>>(
      name, help, MetricType::kHistogram,
      [bounds] { return std::make_unique<Histogram>(bounds); });
  Family<Histogram>& ref = *family;
  absl::MutexLock lock(&mu_);
  families_.push_back(std::move(family));
  return ref;
}

void Registry::AddCollector(
    std::function<std::vector<FamilySnapshot>()> collector) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(collector));
}

std::vector<FamilySnapshot> Registry::Collect() const {
  std::vector<FamilySnapshot> out;
  absl::MutexLock lock(&mu_);
  for (const auto& family : families_) out.push_back(family->Collect());
  for (const auto& collector : collectors_) {
    for (FamilySnapshot& f : collector()) out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(),
            [](const FamilySnapshot& a, const FamilySnapshot& b) {
              return a.name < b.name;
            });
  return out;
}

}  // namespace snaptun::metrics
