// Run by lossy_network_test.sh inside a network namespace whose nftables
// drop 20% of the gateway's UDP traffic in each direction at random:
//
//   lossy_clients PORT
//
// A gateway on 127.0.0.1:PORT and ten clients. Every client must establish
// (handshakes are retransmitted), and payloads must flow both ways at about
// the rate the loss allows. Exits 0 on success.
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "service/client_tunnel.h"
#include "service/gateway.h"
#include "service/identity_store.h"
#include "service/worker.h"
#include "tests/integration/gateway_recorder.h"
#include "tests/testing/keys.h"

namespace snaptun {
namespace {

constexpr int kClients = 10;
constexpr int kPackets = 200;

int Main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: lossy_clients PORT\n";
    return 2;
  }
  const uint16_t port_number = static_cast<uint16_t>(std::atoi(argv[1]));
  io::SystemClock clock;
  service::WorkerPool pool(clock, 2);
  const core::LocalIdentity gateway_identity(testing::FilledKey(2));
  service::IdentityStore identities;
  testing::GatewayRecorder recorder;
  service::GatewayConfig gateway_config;
  gateway_config.listen = core::Endpoint::Ipv4({127, 0, 0, 1}, port_number);
  absl::StatusOr<std::unique_ptr<service::Gateway>> gateway =
      service::Gateway::Start(pool, gateway_identity, identities,
                              gateway_config, &recorder);
  if (!gateway.ok()) {
    std::cerr << gateway.status() << "\n";
    return 1;
  }
  std::vector<std::unique_ptr<core::LocalIdentity>> keys;
  std::vector<std::shared_ptr<service::ClientTunnel>> clients;
  for (int i = 0; i < kClients; ++i) {
    keys.push_back(std::make_unique<core::LocalIdentity>(
        testing::FilledKey(static_cast<uint8_t>(20 + i))));
    identities.Grant(keys.back()->public_key(), absl::Now(),
                     absl::InfiniteFuture(), {});
  }
  for (int i = 0; i < kClients; ++i) {
    service::ClientTunnelConfig config;
    config.peer_public_key = gateway_identity.public_key();
    config.data_plane = gateway_config.listen;
    config.connect_timeout = absl::Seconds(40);
    clients.push_back(service::ClientTunnel::Open(pool.at(i % 2), *keys[i],
                                                  config, nullptr, nullptr));
  }
  int established = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(45);
  while (absl::Now() < deadline) {
    established = 0;
    for (auto& c : clients) {
      established += c->state() == service::ClientState::kEstablished;
    }
    if (established == kClients) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  std::cout << established << " of " << kClients << " tunnels established\n";
  if (established != kClients) return 1;

  size_t up = 0;
  size_t down = 0;
  for (auto& c : clients) {
    for (int n = 0; n < kPackets; ++n) {
      c->port()->Send(service::Packet(100, static_cast<uint8_t>(n)));
      absl::SleepFor(absl::Microseconds(200));
    }
  }
  absl::SleepFor(absl::Seconds(1));
  for (auto& c : clients) {
    std::shared_ptr<service::TunnelPort> gw =
        recorder.WaitForPort(*c->local_address(), absl::Seconds(1));
    if (gw == nullptr) continue;
    std::vector<service::Packet> got;
    while (gw->Receive(got, 1024, absl::Milliseconds(100)) > 0) {
    }
    up += got.size();
    for (int n = 0; n < kPackets; ++n) {
      gw->Send(service::Packet(100, static_cast<uint8_t>(n)));
      absl::SleepFor(absl::Microseconds(200));
    }
  }
  absl::SleepFor(absl::Seconds(1));
  for (auto& c : clients) {
    std::vector<service::Packet> got;
    while (c->port()->Receive(got, 1024, absl::Milliseconds(100)) > 0) {
    }
    down += got.size();
  }
  const size_t sent = kClients * kPackets;
  std::cout << "delivered up " << up << " and down " << down << " of " << sent
            << " each way\n";
  for (auto& c : clients) c->Close();
  (*gateway)->Stop();
  // 20% loss leaves about 80%; anything under 60% means the tunnels, not
  // the network, lost packets.
  return (up * 100 >= sent * 60 && down * 100 >= sent * 60 && up < sent &&
          down < sent)
             ? 0
             : 1;
}

}  // namespace
}  // namespace snaptun

int main(int argc, char** argv) { return snaptun::Main(argc, argv); }
