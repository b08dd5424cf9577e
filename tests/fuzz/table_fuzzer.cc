// Fuzz target: a stream of datagrams from a handful of source addresses
// into a gateway tunnel table, interleaved with timer runs and outgoing
// payloads. Input format: repeated [op:1][source:1][len:2 LE][bytes:len].
// One authorized client's real handshake is played first, so the fuzzer
// also reaches established-session code.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tests/testing/fake_random.h"
#include "tests/testing/keys.h"
#include "tunnel/core/authorizer.h"
#include "tunnel/core/peer.h"
#include "tunnel/core/tunnel_table.h"

namespace {

using snaptun::core::Endpoint;

constexpr auto Key = ::snaptun::testing::FilledKey;

class AllowOne final : public snaptun::core::Authorizer {
 public:
  explicit AllowOne(const snaptun::crypto::PublicKey& key) : key_(key) {}
  std::optional<snaptun::core::Grant> Authorize(
      absl::Time, const snaptun::crypto::PublicKey& identity) const override {
    if (identity != key_) return std::nullopt;
    return snaptun::core::Grant{};
  }

 private:
  snaptun::crypto::PublicKey key_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace snaptun::core;
  static const LocalIdentity gateway(Key(2));
  static const LocalIdentity client_id(Key(3));
  static const AllowOne authz(client_id.public_key());
  snaptun::testing::FakeRandom rng(1);
  TunnelTableConfig config;
  config.max_tunnels = 8;
  config.rate_limiter.per_source_soft = 4;
  TunnelTable table(gateway, authz, rng, config);
  TableOutput out;
  absl::Time now = absl::FromUnixSeconds(1767225600);

  const Endpoint sources[4] = {Endpoint::Ipv4({192, 0, 2, 1}, 1000),
                               Endpoint::Ipv4({192, 0, 2, 1}, 1001),
                               Endpoint::Ipv4({192, 0, 2, 2}, 1000),
                               Endpoint::Ipv6({0x20, 0x01, 0x0d, 0xb8}, 1000)};

  // A real client at sources[0].
  snaptun::testing::FakeRandom client_rng(2);
  Peer client(client_id, gateway.public_key(), PeerConfig{}, client_rng);
  PeerOutput client_out;
  client.Connect(now, client_out);
  for (auto& d : client_out.to_network) {
    table.HandleIncoming(now, absl::MakeSpan(d), sources[0], out);
  }

  size_t pos = 0;
  std::vector<uint8_t> buf;
  while (pos + 4 <= size) {
    const uint8_t op = data[pos];
    const Endpoint& from = sources[data[pos + 1] % 4];
    const size_t len = data[pos + 2] | (size_t{data[pos + 3]} << 8);
    pos += 4;
    const size_t take = std::min(len, size - pos);
    buf.assign(data + pos, data + pos + take);
    pos += take;
    switch (op % 4) {
      case 0:
        table.HandleIncoming(now, absl::MakeSpan(buf), from, out);
        break;
      case 1: {
        std::vector<uint8_t> datagram(
            Peer::SealedSize(buf.size(), Mode::kSnap));
        table.HandleOutgoing(now, from, buf, absl::MakeSpan(datagram), out);
        break;
      }
      case 2:
        now += absl::Milliseconds(len);
        table.OnTimer(now, out);
        break;
      case 3:
        // Feed the gateway's own replies back to the real client and its
        // answers to the gateway.
        for (auto& [to, d] : out.to_network) {
          auto type = Classify(d, Mode::kSnap);
          if (to == sources[0] && type.has_value()) {
            client.Receive(now, *type, absl::MakeSpan(d), to, client_out);
          }
        }
        out.Clear();
        for (auto& d : client_out.to_network) {
          table.HandleIncoming(now, absl::MakeSpan(d), sources[0], out);
        }
        client_out.Clear();
        break;
    }
    if (out.to_network.size() > 1024) out.Clear();
  }
  return 0;
}
