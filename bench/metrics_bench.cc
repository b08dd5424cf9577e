// The cost of counting on the packet path (docs/PERFORMANCE.md): the same
// seal loop with and without the metric updates a worker makes per sealed
// packet (packets and bytes), run by two threads at once as two workers
// would. Three ways to count: none (the baseline), worker-local cells
// (metrics/worker_metrics.h, what snaptund uses) and one prometheus-cpp
// Counter per series shared by both threads (the library's own way). Run all
// in one invocation and compare; the target is under 2 % at 1420-byte
// payloads. The 64-byte case shows the worst case, where sealing is cheapest.
#include <benchmark/benchmark.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <vector>

#include "metrics/worker_metrics.h"
#include "service/dataplane_metrics.h"
#include "tunnel/core/keypair.h"

namespace snaptun {
namespace {

core::TransportKeys Keys() {
  core::TransportKeys keys;
  std::fill(keys.send.data(), keys.send.data() + 32, 1);
  std::fill(keys.receive.data(), keys.receive.data() + 32, 2);
  return keys;
}

// Series shared by the benchmark's threads, made once.
struct Shared {
  prometheus::Registry registry;
  metrics::WorkerMetrics workers;
  service::DataPlaneMetrics metrics{registry, workers};
  prometheus::Family<prometheus::Counter>& family =
      prometheus::BuildCounter()
          .Name("bench_packets_total")
          .Help("bench")
          .Register(registry);
  prometheus::Counter& packets = family.Add({{"direction", "tx"}});
  prometheus::Counter& bytes = family.Add({{"direction", "bytes"}});
};

Shared& SharedSeries() {
  static Shared* shared = new Shared;
  return *shared;
}

void BM_SealWithoutMetrics(benchmark::State& state) {
  const size_t n = state.range(0);
  core::Keypair keypair(Keys(), 1, 2, true, absl::UnixEpoch());
  std::vector<uint8_t> in(n, 0x5a), out(n + 32);
  for (auto _ : state) {
    benchmark::DoNotOptimize(keypair.Seal(in, out.data()));
  }
  state.SetBytesProcessed(state.iterations() * n);
}
BENCHMARK(BM_SealWithoutMetrics)->Arg(64)->Arg(1420)->Threads(2);

void BM_SealWithWorkerCounters(benchmark::State& state) {
  const size_t n = state.range(0);
  service::RoleMetrics& m = SharedSeries().metrics.role(service::Role::kClient);
  const size_t worker = state.thread_index();
  core::Keypair keypair(Keys(), 1, 2, true, absl::UnixEpoch());
  std::vector<uint8_t> in(n, 0x5a), out(n + 32);
  for (auto _ : state) {
    benchmark::DoNotOptimize(keypair.Seal(in, out.data()));
    m.packets_tx->Increment(1, worker);
    m.bytes_tx->Increment(n, worker);
  }
  benchmark::DoNotOptimize(m.packets_tx->Value());
  state.SetBytesProcessed(state.iterations() * n);
}
BENCHMARK(BM_SealWithWorkerCounters)->Arg(64)->Arg(1420)->Threads(2);

void BM_SealWithSharedPrometheusCounter(benchmark::State& state) {
  const size_t n = state.range(0);
  Shared& shared = SharedSeries();
  core::Keypair keypair(Keys(), 1, 2, true, absl::UnixEpoch());
  std::vector<uint8_t> in(n, 0x5a), out(n + 32);
  for (auto _ : state) {
    benchmark::DoNotOptimize(keypair.Seal(in, out.data()));
    shared.packets.Increment();
    shared.bytes.Increment(static_cast<double>(n));
  }
  state.SetBytesProcessed(state.iterations() * n);
}
BENCHMARK(BM_SealWithSharedPrometheusCounter)->Arg(64)->Arg(1420)->Threads(2);

}  // namespace
}  // namespace snaptun

BENCHMARK_MAIN();
