// The in-memory network behaves as UDP on one host would, where the data
// plane can tell: sources, connected filtering, reuse_port sharing, address
// conflicts, the receive budget's drops (seen as kernel drops), readiness,
// and losses a test asks for.
#include "tunnel/io/memory_network.h"

#include <poll.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tunnel/io/receive_round.h"

namespace snaptun::io {
namespace {

const core::Endpoint kAny = core::Endpoint::Ipv4({0, 0, 0, 0}, 0);
const core::Endpoint kLoopback = core::Endpoint::Ipv4({127, 0, 0, 1}, 0);

struct Got {
  std::string bytes;
  core::Endpoint from;
};

bool Readable(const DatagramChannel& channel) {
  pollfd p{channel.readiness_fd(), POLLIN, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

void Send(DatagramChannel& channel, const core::Endpoint& to,
          const std::string& text) {
  BatchSender sender(8);
  sender.Queue(
      to, absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(text.data()),
                              text.size()));
  const FlushStats stats = channel.Flush(sender);
  EXPECT_EQ(stats.sent, 1u);
  EXPECT_TRUE(sender.empty());
}

// Receives round after round, one datagram per round (a one-slot
// receiver), until a round reads nothing.
std::vector<Got> ReceiveAll(DatagramChannel& channel) {
  BatchReceiver one(1);
  std::vector<Got> got;
  for (;;) {
    absl::StatusOr<ReceiveStats> stats = channel.Receive(
        one, [&](absl::Span<uint8_t> datagram, const core::Endpoint& from) {
          got.push_back({std::string(datagram.begin(), datagram.end()), from});
        });
    EXPECT_TRUE(stats.ok());
    if (!stats.ok() || stats->datagrams + stats->empty == 0) return got;
    EXPECT_EQ(stats->datagrams + stats->empty, 1u);
  }
}

std::unique_ptr<DatagramChannel> BindOrDie(MemoryNetwork& network,
                                           const core::Endpoint& at,
                                           UdpSocketOptions options = {}) {
  absl::StatusOr<std::unique_ptr<DatagramChannel>> channel =
      network.Bind(at, options);
  EXPECT_TRUE(channel.ok()) << channel.status();
  return channel.ok() ? std::move(*channel) : nullptr;
}

TEST(MemoryNetworkTest, ConnectedAndBoundChannelsTalkWithTheirAddresses) {
  MemoryNetwork network;
  std::unique_ptr<DatagramChannel> server = BindOrDie(network, kAny);
  const core::Endpoint server_at =
      core::Endpoint::Ipv4({127, 0, 0, 1}, (*server->LocalEndpoint()).port());
  EXPECT_NE(server_at.port(), 0);
  absl::StatusOr<std::unique_ptr<DatagramChannel>> client =
      network.Connect(server_at, {});
  ASSERT_TRUE(client.ok()) << client.status();
  const core::Endpoint client_at = *(*client)->LocalEndpoint();
  EXPECT_NE(client_at.port(), server_at.port());

  EXPECT_FALSE(Readable(*server));
  Send(**client, kAny, "hello");  // A connected channel ignores `to`.
  EXPECT_TRUE(Readable(*server));
  std::vector<Got> got = ReceiveAll(*server);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].bytes, "hello");
  EXPECT_EQ(got[0].from, client_at);
  EXPECT_FALSE(Readable(*server));

  Send(*server, client_at, "back");
  got = ReceiveAll(**client);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].bytes, "back");
  EXPECT_EQ(got[0].from, server_at);
  EXPECT_EQ(network.counts().queued, 2u);
}

TEST(MemoryNetworkTest, AConnectedChannelHearsOnlyItsRemote) {
  MemoryNetwork network;
  std::unique_ptr<DatagramChannel> server = BindOrDie(network, kLoopback);
  std::unique_ptr<DatagramChannel> stranger = BindOrDie(network, kLoopback);
  std::unique_ptr<DatagramChannel> client =
      std::move(*network.Connect(*server->LocalEndpoint(), {}));
  Send(*stranger, *client->LocalEndpoint(), "spoof");
  EXPECT_FALSE(Readable(*client));
  EXPECT_EQ(network.counts().unreachable, 1u);
}

TEST(MemoryNetworkTest, ReusePortSharesAnAddressBySourceAndNothingElseMay) {
  MemoryNetwork network;
  UdpSocketOptions shared;
  shared.reuse_port = true;
  std::unique_ptr<DatagramChannel> a = BindOrDie(network, kLoopback, shared);
  const core::Endpoint at = *a->LocalEndpoint();
  std::unique_ptr<DatagramChannel> b = BindOrDie(network, at, shared);
  absl::StatusOr<std::unique_ptr<DatagramChannel>> exclusive =
      network.Bind(at, {});
  EXPECT_FALSE(exclusive.ok());
  // The wildcard address of the same port collides too.
  EXPECT_FALSE(
      network.Bind(core::Endpoint::Ipv4({0, 0, 0, 0}, at.port()), {}).ok());

  std::vector<std::unique_ptr<DatagramChannel>> clients;
  for (int i = 0; i < 16; ++i) {
    clients.push_back(std::move(*network.Connect(at, {})));
    Send(*clients.back(), at, "one");
    Send(*clients.back(), at, "two");
  }
  const std::vector<Got> to_a = ReceiveAll(*a);
  const std::vector<Got> to_b = ReceiveAll(*b);
  EXPECT_EQ(to_a.size() + to_b.size(), 32u);
  EXPECT_FALSE(to_a.empty());
  EXPECT_FALSE(to_b.empty());
  // Each source's datagrams all went to one channel.
  for (const Got& got : to_a) {
    for (const Got& other : to_b) EXPECT_NE(got.from, other.from);
  }

  // Closing both frees the address.
  a.reset();
  b.reset();
  EXPECT_TRUE(network.Bind(at, {}).ok());
}

TEST(MemoryNetworkTest, AFullQueueDropsAndCountsAsTheKernelWould) {
  MemoryNetwork network;
  UdpSocketOptions small;
  small.receive_buffer_bytes = 100;
  std::unique_ptr<DatagramChannel> server =
      BindOrDie(network, kLoopback, small);
  std::unique_ptr<DatagramChannel> client =
      std::move(*network.Connect(*server->LocalEndpoint(), {}));
  // As the kernel's, the queue takes datagrams while it is under budget:
  // two of 60 bytes (the second takes it to 120), then none.
  const std::string sixty(60, 'x');
  for (int i = 0; i < 4; ++i) Send(*client, kAny, sixty);
  EXPECT_EQ(server->KernelDrops(), 2u);
  EXPECT_EQ(network.counts().overflow, 2u);

  // The pump's round accounting sees them as socket overflow.
  BatchReceiver one(1);
  KernelDropCounter drops;
  absl::StatusOr<ReceiveStats> round =
      server->Receive(one, [](absl::Span<uint8_t>, const core::Endpoint&) {});
  ASSERT_TRUE(round.ok());
  EXPECT_EQ(round->datagrams, 1u);
  RoundLosses lost = AccountRound(*round, *server, drops);
  EXPECT_EQ(lost.socket_overflow, 2u);
  EXPECT_EQ(ReceiveAll(*server).size(), 1u);
  // Drained, the budget admits again.
  Send(*client, kAny, sixty);
  EXPECT_EQ(ReceiveAll(*server).size(), 1u);
  EXPECT_EQ(server->KernelDrops(), 2u);
}

TEST(MemoryNetworkTest, AFilterLosesWhatTheTestSays) {
  MemoryNetwork network;
  std::unique_ptr<DatagramChannel> server = BindOrDie(network, kLoopback);
  std::unique_ptr<DatagramChannel> client =
      std::move(*network.Connect(*server->LocalEndpoint(), {}));
  network.SetFilter(
      [](const core::Endpoint&, const core::Endpoint&,
         absl::Span<const uint8_t> datagram) { return datagram.size() != 4; });
  Send(*client, kAny, "lost");
  Send(*client, kAny, "kept");
  Send(*client, kAny, "passes");
  const std::vector<Got> got = ReceiveAll(*server);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].bytes, "passes");
  EXPECT_EQ(network.counts().filtered, 2u);
}

TEST(MemoryNetworkTest, AChannelMayOutliveItsNetwork) {
  std::unique_ptr<DatagramChannel> channel;
  {
    MemoryNetwork network;
    channel = BindOrDie(network, kLoopback);
  }
  Send(*channel, kLoopback, "nobody");
  EXPECT_TRUE(ReceiveAll(*channel).empty());
}

}  // namespace
}  // namespace snaptun::io
