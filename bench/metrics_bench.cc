// The cost of counting on the packet path (docs/PERFORMANCE.md): the same
// seal loop with and without the metric updates a worker makes per sealed
// packet (packets and bytes, in the worker's own shard). Run both in one
// invocation and compare; the target is under 2 % at 1420-byte payloads.
// The 64-byte case shows the worst case, where sealing is cheapest.
#include <benchmark/benchmark.h>

#include <vector>

#include "metrics/registry.h"
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

void BM_SealWithoutMetrics(benchmark::State& state) {
  const size_t n = state.range(0);
  core::Keypair keypair(Keys(), 1, 2, true, absl::UnixEpoch());
  std::vector<uint8_t> in(n, 0x5a), out(n + 32);
  for (auto _ : state) {
    benchmark::DoNotOptimize(keypair.Seal(in, out.data()));
  }
  state.SetBytesProcessed(state.iterations() * n);
}
BENCHMARK(BM_SealWithoutMetrics)->Arg(64)->Arg(1420);

void BM_SealWithMetrics(benchmark::State& state) {
  const size_t n = state.range(0);
  metrics::Registry registry;
  service::DataPlaneMetrics metrics(registry);
  service::RoleMetrics& m = metrics.role(service::Role::kClient);
  constexpr size_t kShard = 1;
  core::Keypair keypair(Keys(), 1, 2, true, absl::UnixEpoch());
  std::vector<uint8_t> in(n, 0x5a), out(n + 32);
  for (auto _ : state) {
    benchmark::DoNotOptimize(keypair.Seal(in, out.data()));
    m.packets_tx->Increment(1, kShard);
    m.bytes_tx->Increment(n, kShard);
  }
  benchmark::DoNotOptimize(m.packets_tx->Value());
  state.SetBytesProcessed(state.iterations() * n);
}
BENCHMARK(BM_SealWithMetrics)->Arg(64)->Arg(1420);

}  // namespace
}  // namespace snaptun

BENCHMARK_MAIN();
