// A process that exports real data-plane metrics for the Prometheus tests:
// a gateway and a client tunnel on loopback exchange a few packets, and the
// exporter serves them on 127.0.0.1 (an ephemeral port, printed on stdout as
// "port N"). Runs until stdin closes.
#include <iostream>
#include <memory>
#include <string>

#include "metrics/exporter.h"
#include "metrics/process_metrics.h"
#include "service/client_tunnel.h"
#include "service/dataplane_metrics.h"
#include "service/gateway.h"
#include "service/identity_store.h"
#include "service/worker.h"
#include "tests/testing/keys.h"

int main() {
  using namespace snaptun;
  io::SystemClock clock;
  service::WorkerPool pool(clock, 2);
  auto registry = std::make_shared<prometheus::Registry>();
  auto workers = std::make_shared<metrics::WorkerMetrics>();
  metrics::Exposition exposition;
  exposition.Add(registry);
  exposition.Add(workers);
  exposition.Add(std::make_shared<metrics::ProcessMetrics>());
  service::DataPlaneMetrics metrics(*registry, *workers);
  const core::LocalIdentity gateway_identity(testing::FilledKey(2));
  const core::LocalIdentity client_identity(testing::FilledKey(1));
  service::IdentityStore identities;
  identities.Grant(client_identity.public_key(), absl::Now(),
                   absl::InfiniteFuture(), {});
  service::GatewayConfig gateway_config;
  gateway_config.listen = core::Endpoint::Ipv4({127, 0, 0, 1}, 0);
  gateway_config.metrics = &metrics;
  auto gateway = service::Gateway::Start(pool, gateway_identity, identities,
                                         gateway_config, nullptr);
  if (!gateway.ok()) {
    std::cerr << gateway.status() << "\n";
    return 1;
  }
  service::ClientTunnelConfig config;
  config.peer_public_key = gateway_identity.public_key();
  config.data_plane = (*gateway)->local_address();
  auto role = std::make_shared<service::ClientRoleConfig>();
  role->metrics = &metrics;
  config.role = role;
  auto tunnel =
      service::ClientTunnel::Connect(pool.at(0), client_identity, config);
  if (!tunnel.ok()) {
    std::cerr << tunnel.status() << "\n";
    return 1;
  }
  for (int i = 0; i < 10; ++i) {
    (*tunnel)->port()->Send(service::Packet(100, static_cast<uint8_t>(i)));
  }
  // The port is announced only once the gateway counted all ten, so the
  // first scrape's value does not depend on the machine's speed.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while ((*gateway)->stats().rx_packets < 10 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  auto exporter = metrics::Exporter::Start("127.0.0.1:0", exposition);
  if (!exporter.ok()) {
    std::cerr << exporter.status() << "\n";
    return 1;
  }
  (*exporter)->SetReady(true);
  std::cout << "port " << (*exporter)->port() << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  (*tunnel)->Close();
  (*gateway)->Stop();
  return 0;
}
