// Exposition format 0.0.4 byte for byte: HELP/TYPE lines, escaping of help
// text and label values, histogram buckets, ordering, number formatting; and
// sharded counters summing at collection.
#include "metrics/text_format.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "metrics/process_metrics.h"
#include "metrics/registry.h"

namespace snaptun::metrics {
namespace {

TEST(TextFormatTest, CountersAndGaugesWithEscapedLabelsAndHelp) {
  Registry registry;
  Family<Counter>& drops =
      registry.AddCounter("b_total", "Drops \\ by \"reason\"\nsecond line");
  drops.Add({{"reason", "a\"b\\c\nd"}, {"role", "gateway"}}).Increment(3);
  drops.Add({{"reason", "plain"}, {"role", "client"}}).Increment();
  registry.AddGauge("a_gauge", "A gauge.").Add({}).Set(-2.5);
  EXPECT_EQ(WriteTextFormat(registry.Collect()),
            "# HELP a_gauge A gauge.\n"
            "# TYPE a_gauge gauge\n"
            "a_gauge -2.5\n"
            "# HELP b_total Drops \\\\ by \"reason\"\\nsecond line\n"
            "# TYPE b_total counter\n"
            "b_total{reason=\"a\\\"b\\\\c\\nd\",role=\"gateway\"} 3\n"
            "b_total{reason=\"plain\",role=\"client\"} 1\n");
}

TEST(TextFormatTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  Registry registry;
  Histogram& h =
      registry.AddHistogram("d_seconds", "Durations.", {0.005, 0.5, 1})
          .Add({{"role", "client"}});
  h.Observe(0.001);
  h.Observe(0.005);  // On the bound: counts in that bucket (le).
  h.Observe(0.75, 3);
  h.Observe(20, 5);
  EXPECT_EQ(WriteTextFormat(registry.Collect()),
            "# HELP d_seconds Durations.\n"
            "# TYPE d_seconds histogram\n"
            "d_seconds_bucket{role=\"client\",le=\"0.005\"} 2\n"
            "d_seconds_bucket{role=\"client\",le=\"0.5\"} 2\n"
            "d_seconds_bucket{role=\"client\",le=\"1\"} 3\n"
            "d_seconds_bucket{role=\"client\",le=\"+Inf\"} 4\n"
            "d_seconds_sum{role=\"client\"} 20.756\n"
            "d_seconds_count{role=\"client\"} 4\n");
}

TEST(TextFormatTest, ValuesUseTheShortestExactForm) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(12345678), "12345678");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(1e-9), "1e-09");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
}

TEST(RegistryTest, ShardedCounterSumsConcurrentWriters) {
  Registry registry;
  Counter& c = registry.AddCounter("c_total", "C.").Add({});
  std::vector<std::thread> writers;
  for (size_t shard = 0; shard < 20; ++shard) {  // More writers than shards.
    writers.emplace_back([&, shard] {
      for (int i = 0; i < 10000; ++i) c.Increment(1, shard);
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_EQ(c.Value(), 200000u);
}

TEST(RegistryTest, AddReturnsTheSameSeriesForTheSameLabels) {
  Registry registry;
  Family<Counter>& f = registry.AddCounter("c_total", "C.");
  EXPECT_EQ(&f.Add({{"a", "1"}}), &f.Add({{"a", "1"}}));
  EXPECT_NE(&f.Add({{"a", "1"}}), &f.Add({{"a", "2"}}));
}

// Reads one process family's single value; fails the test if it is missing.
double ProcessValue(const std::vector<FamilySnapshot>& families,
                    const std::string& name) {
  for (const FamilySnapshot& f : families) {
    if (f.name == name && f.samples.size() == 1) return f.samples[0].value;
  }
  ADD_FAILURE() << name << " missing or not a single sample";
  return -1;
}

// Only what the kernel promises is asserted: a short-lived process may have
// used less than one clock tick of CPU, so CPU seconds may read 0.
TEST(ProcessMetricsTest, ReportsTheStandardFamilies) {
  const std::vector<FamilySnapshot> families = CollectProcessMetrics();
  for (const FamilySnapshot& f : families) {
    ASSERT_EQ(f.samples.size(), 1u) << f.name;
    EXPECT_TRUE(std::isfinite(f.samples[0].value)) << f.name;
    EXPECT_GE(f.samples[0].value, 0) << f.name;
  }
  EXPECT_GE(ProcessValue(families, "process_cpu_seconds_total"), 0);
  for (const char* positive :
       {"process_resident_memory_bytes", "process_open_fds",
        "process_start_time_seconds", "process_virtual_memory_bytes",
        "process_max_fds"}) {
    EXPECT_GT(ProcessValue(families, positive), 0) << positive;
  }
}

// CPU seconds move once the process has burnt well over one tick of CPU.
// The loop runs until the kernel reports the time, so it does not depend on
// the machine's speed; the deadline only stops a broken counter.
TEST(ProcessMetricsTest, CpuSecondsGrowWithWork) {
  const double before =
      ProcessValue(CollectProcessMetrics(), "process_cpu_seconds_total");
  volatile uint64_t sink = 0;
  double after = before;
  for (int round = 0; round < 100000 && after <= before; ++round) {
    for (uint64_t i = 0; i < 1000000; ++i) sink = sink + i * i;
    after = ProcessValue(CollectProcessMetrics(), "process_cpu_seconds_total");
  }
  EXPECT_GT(after, before);
}

}  // namespace
}  // namespace snaptun::metrics
