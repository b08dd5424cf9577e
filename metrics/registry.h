// The metrics registry: families of counters, gauges and histograms with
// labels, in the shape of prometheus-cpp (Registry, Family<T>, Add(labels)),
// so prometheus-cpp could replace this directory without touching callers.
//
// The packet path never looks anything up: a caller resolves each series
// once (Family::Add returns a reference that lives as long as the registry)
// and then bumps it. Counters and histograms keep one cache-line-sized cell
// per writer shard (a worker's index), so workers never contend; a scrape
// sums the cells. Gauges are single atomics, set rarely.
#ifndef SNAPTUN_METRICS_REGISTRY_H_
#define SNAPTUN_METRICS_REGISTRY_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace snaptun::metrics {

using Labels = std::map<std::string, std::string>;

// Writer shards per series; writers beyond it share cells (still correct,
// the adds are atomic).
inline constexpr size_t kShards = 16;

class Counter {
 public:
  void Increment(uint64_t by = 1, size_t shard = 0) {
    cells_[shard % kShards].value.fetch_add(by, std::memory_order_relaxed);
  }
  uint64_t Value() const;

 private:
  struct alignas(64) Cell {
    std::atomic<uint64_t> value{0};
  };
  std::array<Cell, kShards> cells_;
};

class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Increment(double by = 1);
  void Decrement(double by = 1) { Increment(-by); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // Upper bounds, strictly increasing; +Inf is implicit.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value, size_t shard = 0);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // One per bound, then +Inf.
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Collect() const;

 private:
  struct alignas(64) Cell {
    std::vector<std::atomic<uint64_t>> buckets;
    std::atomic<double> sum{0};
  };
  const std::vector<double> bounds_;
  std::array<Cell, kShards> cells_;
};

enum class MetricType { kCounter, kGauge, kHistogram };

// One series as seen by a scrape.
struct Sample {
  Labels labels;
  double value = 0;               // Counter, gauge.
  Histogram::Snapshot histogram;  // Histogram.
};

struct FamilySnapshot {
  std::string name;
  std::string help;
  MetricType type;
  std::vector<Sample> samples;
};

class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  virtual FamilySnapshot Collect() const = 0;
};

template <typename T>
class Family final : public FamilyBase {
 public:
  using Factory = std::function<std::unique_ptr<T>()>;
  Family(std::string name, std::string help, MetricType type, Factory factory)
      : name_(std::move(name)),
        help_(std::move(help)),
        type_(type),
        factory_(std::move(factory)) {}

  // The series with these labels, created on first use. The reference stays
  // valid for the registry's life. Not for the packet path: resolve once.
  T& Add(const Labels& labels) {
    absl::MutexLock lock(&mu_);
    auto it = series_.find(labels);
    if (it == series_.end()) {
      it = series_.emplace(labels, factory_()).first;
    }
    return *it->second;
  }

  FamilySnapshot Collect() const override;

 private:
  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const Factory factory_;
  mutable absl::Mutex mu_;
  std::map<Labels, std::unique_ptr<T>> series_ ABSL_GUARDED_BY(mu_);
};

class Registry {
 public:
  Family<Counter>& AddCounter(const std::string& name, const std::string& help);
  Family<Gauge>& AddGauge(const std::string& name, const std::string& help);
  Family<Histogram>& AddHistogram(const std::string& name,
                                  const std::string& help,
                                  std::vector<double> bounds);
  // Families computed at scrape time (process metrics, table sizes).
  void AddCollector(std::function<std::vector<FamilySnapshot>()> collector);

  // Every family, sorted by name.
  std::vector<FamilySnapshot> Collect() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<std::vector<FamilySnapshot>()>> collectors_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace snaptun::metrics

#endif  // SNAPTUN_METRICS_REGISTRY_H_
