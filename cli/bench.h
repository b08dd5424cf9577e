// `snaptunctl bench`: load through the API. Opens N client tunnels to a data
// plane (measuring OpenTunnel latency), and when the daemon also hosts that
// gateway, attaches a stream to each gateway tunnel that echoes every
// packet back; client streams send at the given rate and size and count the
// echoes. Prints a summary table and, with the daemon's metrics address,
// where every packet went.
#ifndef SNAPTUN_CLI_BENCH_H_
#define SNAPTUN_CLI_BENCH_H_

#include <string>

#include "absl/time/time.h"
#include "cli/api_client.h"

namespace snaptun::cli {

struct BenchOptions {
  std::string peer_public_key;  // 32 bytes.
  std::string data_plane;
  int tunnels = 8;
  int rate = 1000;  // Packets per second per tunnel; 0 = as fast as possible.
  int size = 1000;
  // Packets a client stream may have in flight (written, not yet echoed or
  // reported dropped) before its writer waits; 0 = no limit. An echo that
  // does not come within 50 ms is taken as lost, so losses cannot stall it.
  int window = 0;
  absl::Duration duration = absl::Seconds(5);
  bool json = false;
  // host:port of the daemon's /metrics: when set, the summary adds the loss
  // balance sheet of both directions (cli/loss_balance.h).
  std::string metrics_address;
};

int RunBench(ApiClient& client, const BenchOptions& options);

}  // namespace snaptun::cli

#endif  // SNAPTUN_CLI_BENCH_H_
