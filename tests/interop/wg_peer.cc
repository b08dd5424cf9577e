// A snaptun peer for the wireguard-go interop test, in WireGuard mode:
//
//   wg_peer initiator KEY_FILE PEER_PUBLIC_B64 HOST:PORT
//       opens a client tunnel to wireguard-go at HOST:PORT;
//   wg_peer responder KEY_FILE PEER_PUBLIC_B64 LISTEN_HOST:PORT
//       runs a gateway, authorizes wireguard-go's key and waits for it to
//       handshake in.
//
// Either way it then sends ICMP echo requests from 198.19.1.2 to 198.19.1.1
// through the tunnel and exits 0 once the kernel behind wireguard-go has
// answered one. KEY_FILE holds our private key in base64 (`wg genkey`).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "service/client_tunnel.h"
#include "service/gateway.h"
#include "service/identity_store.h"
#include "service/worker.h"
#include "tests/integration/gateway_recorder.h"
#include "tests/interop/icmp.h"

namespace snaptun {
namespace {

constexpr testing::Ipv4Address kOurs = {198, 19, 1, 2};
constexpr testing::Ipv4Address kTheirs = {198, 19, 1, 1};

bool DecodeKey(const std::string& text, uint8_t* out) {
  std::string bytes;
  if (!absl::Base64Unescape(absl::StripAsciiWhitespace(text), &bytes) ||
      bytes.size() != 32) {
    return false;
  }
  std::copy(bytes.begin(), bytes.end(), out);
  return true;
}

// Pings through `port` until a reply arrives or `attempts` run out.
bool Ping(service::TunnelPort& port, int attempts) {
  for (int seq = 1; seq <= attempts; ++seq) {
    const std::string payload = absl::StrCat("snaptun interop ", seq);
    port.Send(testing::IcmpEchoRequest(kOurs, kTheirs, 0x5a7, seq, payload));
    const absl::Time deadline = absl::Now() + absl::Seconds(1);
    while (absl::Now() < deadline) {
      std::vector<service::Packet> got;
      port.Receive(got, 16, deadline - absl::Now());
      for (const service::Packet& packet : got) {
        if (testing::IsIcmpEchoReply(packet, kOurs, kTheirs, 0x5a7, seq,
                                     payload)) {
          std::cout << "echo reply " << seq << " through the tunnel\n";
          return true;
        }
      }
    }
  }
  return false;
}

int Main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: wg_peer initiator|responder KEY_FILE PEER_B64 "
                 "HOST:PORT\n";
    return 2;
  }
  const std::string role = argv[1];
  std::ifstream key_file(argv[2]);
  std::stringstream key_text;
  key_text << key_file.rdbuf();
  crypto::PrivateKey private_key;
  crypto::PublicKey peer{};
  if (!DecodeKey(key_text.str(), private_key.data()) ||
      !DecodeKey(argv[3], peer.data())) {
    std::cerr << "bad key\n";
    return 2;
  }
  const std::optional<core::Endpoint> address = core::Endpoint::Parse(argv[4]);
  if (!address.has_value()) {
    std::cerr << "bad address " << argv[4] << "\n";
    return 2;
  }
  const core::LocalIdentity identity(private_key);
  io::SystemClock clock;
  service::WorkerPool pool(clock, 1);
  if (role == "initiator") {
    service::ClientTunnelConfig config;
    config.peer_public_key = peer;
    config.data_plane = *address;
    config.mode = core::Mode::kWireGuard;
    config.connect_timeout = absl::Seconds(15);
    absl::StatusOr<std::shared_ptr<service::ClientTunnel>> tunnel =
        service::ClientTunnel::Connect(pool.at(0), identity, config);
    if (!tunnel.ok()) {
      std::cerr << "connect: " << tunnel.status() << "\n";
      return 1;
    }
    std::cout << "handshake with wireguard-go complete\n";
    const bool ok = Ping(*(*tunnel)->port(), 10);
    (*tunnel)->Close();
    return ok ? 0 : 1;
  }
  if (role == "responder") {
    service::IdentityStore identities;
    identities.Grant(peer, absl::Now(), absl::InfiniteFuture(), {});
    testing::GatewayRecorder recorder;
    service::GatewayConfig config;
    config.listen = *address;
    config.table.mode = core::Mode::kWireGuard;
    absl::StatusOr<std::unique_ptr<service::Gateway>> gateway =
        service::Gateway::Start(pool, identity, identities, config, &recorder);
    if (!gateway.ok()) {
      std::cerr << "gateway: " << gateway.status() << "\n";
      return 1;
    }
    std::shared_ptr<service::TunnelPort> port =
        recorder.WaitForAny(absl::Seconds(20));
    if (port == nullptr) {
      std::cerr << "wireguard-go never handshook\n";
      return 1;
    }
    std::cout << "accepted wireguard-go's handshake\n";
    const bool ok = Ping(*port, 10);
    (*gateway)->Stop();
    return ok ? 0 : 1;
  }
  std::cerr << "unknown role " << role << "\n";
  return 2;
}

}  // namespace
}  // namespace snaptun

int main(int argc, char** argv) { return snaptun::Main(argc, argv); }
