// Worker-counted series: counts from several threads add up exactly, a
// histogram's buckets are cumulative with +Inf last, families come out in
// prometheus-cpp's MetricFamily shape, and the exposition serializes them
// with the library's text format next to a prometheus::Registry.
#include "metrics/worker_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "metrics/exposition.h"

namespace snaptun::metrics {
namespace {

TEST(WorkerMetricsTest, CountsFromManyWorkersAddUp) {
  WorkerCounter counter;
  std::vector<std::thread> threads;
  // More workers than cells: shared cells still count exactly.
  for (size_t worker = 0; worker < kWorkerCells + 4; ++worker) {
    threads.emplace_back([&counter, worker] {
      for (int i = 0; i < 10000; ++i) counter.Increment(3, worker);
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(counter.Value(), 3u * 10000u * (kWorkerCells + 4));
}

TEST(WorkerMetricsTest, HistogramBucketsAreCumulative) {
  WorkerHistogram histogram({0.1, 1, 10});
  histogram.Observe(0.05, 0);
  histogram.Observe(0.1, 1);  // On a bound: counted in that bucket.
  histogram.Observe(5, 2);
  histogram.Observe(50, 3);
  const prometheus::ClientMetric::Histogram h = histogram.Snapshot();
  ASSERT_EQ(h.bucket.size(), 4u);
  EXPECT_EQ(h.bucket[0].cumulative_count, 2u);
  EXPECT_EQ(h.bucket[1].cumulative_count, 2u);
  EXPECT_EQ(h.bucket[2].cumulative_count, 3u);
  EXPECT_EQ(h.bucket[3].cumulative_count, 4u);
  EXPECT_TRUE(std::isinf(h.bucket[3].upper_bound));
  EXPECT_EQ(h.sample_count, 4u);
  EXPECT_DOUBLE_EQ(h.sample_sum, 55.15);
}

TEST(WorkerMetricsTest, FamiliesCollectEverySeries) {
  WorkerMetrics workers;
  auto& family = workers.AddCounter("snaptun_things_total", "Things.");
  family.Add({{"kind", "a"}}).Increment(2, 0);
  family.Add({{"kind", "b"}}).Increment(5, 1);
  EXPECT_EQ(&family.Add({{"kind", "a"}}), &family.Add({{"kind", "a"}}));
  workers.AddHistogram("snaptun_wait_seconds", "Waits.", {1})
      .Add({})
      .Observe(0.5, 0);
  const std::vector<prometheus::MetricFamily> families = workers.Collect();
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].name, "snaptun_things_total");
  EXPECT_EQ(families[0].type, prometheus::MetricType::Counter);
  ASSERT_EQ(families[0].metric.size(), 2u);
  EXPECT_EQ(families[0].metric[1].label[0].value, "b");
  EXPECT_EQ(families[0].metric[1].counter.value, 5);
  EXPECT_EQ(families[1].type, prometheus::MetricType::Histogram);
  EXPECT_EQ(families[1].metric[0].histogram.sample_count, 1u);
}

TEST(WorkerMetricsTest, ExpositionSerializesEveryCollectable) {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter()
      .Name("snaptun_library_total")
      .Help("From the library.")
      .Register(*registry)
      .Add({{"role", "gateway"}})
      .Increment(4);
  auto workers = std::make_shared<WorkerMetrics>();
  workers->AddCounter("snaptun_worker_total", "Counted \"by\" workers.")
      .Add({{"reason", "a\\b\n"}})
      .Increment(9, 3);
  Exposition exposition;
  exposition.Add(registry);
  exposition.Add(workers);
  exposition.Add(std::make_shared<FunctionCollectable>([] {
    return std::vector<prometheus::MetricFamily>{
        GaugeFamily("snaptun_limit", "A limit.", {{{{"kind", "used"}}, 3}})};
  }));
  const std::string text = exposition.Render();
  EXPECT_NE(text.find("# TYPE snaptun_library_total counter\n"),
            std::string::npos);
  EXPECT_NE(text.find("snaptun_library_total{role=\"gateway\"} 4\n"),
            std::string::npos);
  EXPECT_NE(text.find("# HELP snaptun_worker_total Counted \"by\" workers.\n"),
            std::string::npos);
  // Label values escaped as the text format requires.
  EXPECT_NE(text.find("snaptun_worker_total{reason=\"a\\\\b\\n\"} 9\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("snaptun_limit{kind=\"used\"} 3\n"), std::string::npos);
}

}  // namespace
}  // namespace snaptun::metrics
