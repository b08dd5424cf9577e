// The abuse suite: real daemons (in process) on loopback, treated as an
// attacker and an unlucky operator would treat them. Each test provokes one
// of the defects the hostile-input audit found and asserts what must hold
// now: a spoofed replay leaves the victim's tunnel alone, queue-filling
// peers stay within the byte budget, idle connections do not freeze the
// probes or the API, WatchTunnels replays thousands of tunnels, a watcher
// flood is refused beyond the limit, and an oversized control-plane answer
// fails one call without being buffered.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "proto/snaptun/v1/snaptun.grpc.pb.h"
#include "service/daemon/daemon.h"
#include "tests/testing/keys.h"
#include "tests/testing/loopback_daemon.h"
#include "tests/testing/loopback_sockets.h"
#include "tests/testing/scrape.h"
#include "tunnel/core/peer.h"
#include "tunnel/crypto/random.h"
#include "tunnel/io/udp_socket.h"

namespace snaptun::service {
namespace {

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/" + name + "-" + std::to_string(getpid());
}

using ::snaptun::testing::HttpGet;
using ::snaptun::testing::Sample;

class AbuseTest : public ::testing::Test {
 protected:
  void Start(DaemonConfig config = {}) {
    testing::UseLoopbackGateway(config, TempPath("abuse-key"));
    absl::StatusOr<std::unique_ptr<Daemon>> daemon = Daemon::Start(config);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(*daemon);
    grpc::ChannelArguments args;
    // Many streams at once for the watcher flood.
    args.SetMaxReceiveMessageSize(-1);
    channel_ = grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string(daemon_->grpc_port()),
        grpc::InsecureChannelCredentials(), args);
    tunnels_ = v1::TunnelService::NewStub(channel_);
    gateway_ = v1::GatewayService::NewStub(channel_);
  }
  void TearDown() override {
    if (daemon_) daemon_->Drain();
  }
  std::unique_ptr<grpc::ClientContext> Context(
      absl::Duration deadline = absl::Seconds(60)) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    return context;
  }
  std::string KeyBytes(const crypto::PublicKey& k) {
    return std::string(reinterpret_cast<const char*>(k.data()), 32);
  }
  void Authorize(const crypto::PublicKey& key) {
    v1::AuthorizeIdentityRequest request;
    request.set_public_key(KeyBytes(key));
    v1::AuthorizeIdentityResponse response;
    ASSERT_TRUE(
        gateway_->AuthorizeIdentity(Context().get(), request, &response).ok());
  }
  grpc::Status OpenToSelf(const std::string& id, v1::Tunnel* out) {
    v1::OpenTunnelRequest request;
    request.set_tunnel_id(id);
    request.set_peer_public_key(KeyBytes(daemon_->public_key()));
    request.set_data_plane_address(daemon_->gateway_address()->ToString());
    request.mutable_connect_timeout()->set_seconds(15);
    return tunnels_->OpenTunnel(Context().get(), request, out);
  }
  // Opens `count` tunnels to the daemon's own gateway from 8 threads.
  int OpenMany(int count, const std::string& prefix) {
    std::atomic<int> next{0}, failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        for (int i; (i = next.fetch_add(1)) < count;) {
          v1::Tunnel tunnel;
          if (!OpenToSelf(prefix + std::to_string(i), &tunnel).ok()) ++failures;
        }
      });
    }
    for (auto& t : threads) t.join();
    return failures.load();
  }
  std::string Scrape() {
    std::string body;
    EXPECT_EQ(HttpGet(daemon_->metrics_port(), "/metrics", &body), 200);
    return body;
  }
  // The gateway-side tunnel whose remote address is `remote`.
  std::optional<v1::Tunnel> GatewayTunnelAt(const std::string& remote) {
    v1::ListTunnelsRequest list;
    list.set_role(v1::ROLE_GATEWAY);
    list.set_page_size(1000);
    v1::ListTunnelsResponse page;
    if (!tunnels_->ListTunnels(Context().get(), list, &page).ok()) return {};
    for (const v1::Tunnel& t : page.tunnels()) {
      if (t.remote_address() == remote) return t;
    }
    return std::nullopt;
  }

  std::unique_ptr<Daemon> daemon_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::TunnelService::Stub> tunnels_;
  std::unique_ptr<v1::GatewayService::Stub> gateway_;
};

// Sends `payload` as a UDP datagram from `from` (any address and port) to
// `to`, with a raw socket: what an attacker who forges source addresses
// does. Needs CAP_NET_RAW.
bool SendSpoofed(const core::Endpoint& from, const core::Endpoint& to,
                 const std::vector<uint8_t>& payload) {
  const int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  if (fd < 0) return false;
  std::vector<uint8_t> packet(sizeof(iphdr) + sizeof(udphdr) + payload.size());
  auto* ip = reinterpret_cast<iphdr*>(packet.data());
  ip->version = 4;
  ip->ihl = 5;
  ip->ttl = 64;
  ip->protocol = IPPROTO_UDP;
  ip->tot_len = htons(static_cast<uint16_t>(packet.size()));
  sockaddr_in src{}, dst{};
  inet_pton(AF_INET,
            from.ToString().substr(0, from.ToString().rfind(':')).c_str(),
            &src.sin_addr);
  inet_pton(AF_INET, to.ToString().substr(0, to.ToString().rfind(':')).c_str(),
            &dst.sin_addr);
  ip->saddr = src.sin_addr.s_addr;
  ip->daddr = dst.sin_addr.s_addr;
  auto* udp = reinterpret_cast<udphdr*>(packet.data() + sizeof(iphdr));
  udp->source = htons(from.port());
  udp->dest = htons(to.port());
  udp->len = htons(static_cast<uint16_t>(sizeof(udphdr) + payload.size()));
  udp->check = 0;  // Optional over IPv4.
  std::memcpy(packet.data() + sizeof(iphdr) + sizeof(udphdr), payload.data(),
              payload.size());
  dst.sin_family = AF_INET;
  const bool sent = sendto(fd, packet.data(), packet.size(), 0,
                           reinterpret_cast<sockaddr*>(&dst),
                           sizeof(dst)) == static_cast<ssize_t>(packet.size());
  close(fd);
  return sent;
}

// Another authorized identity handshakes normally; its initiation is then
// replayed with the victim's source address. The victim's gateway tunnel
// must survive and keep carrying packets (it used to be torn down as
// "replaced by another identity").
TEST_F(AbuseTest, SpoofedReplayOfAnotherIdentityLeavesTheVictimAlone) {
  if (geteuid() != 0) GTEST_SKIP() << "raw sockets need root";
  Start();
  Authorize(daemon_->public_key());
  v1::Tunnel victim;
  ASSERT_TRUE(OpenToSelf("victim", &victim).ok());
  const std::string victim_address = victim.local_address();
  std::optional<v1::Tunnel> before = GatewayTunnelAt(victim_address);
  ASSERT_TRUE(before.has_value());

  // The attacker's accomplice: a real, authorized identity.
  const core::LocalIdentity other(testing::FilledKey(0x42));
  Authorize(other.public_key());
  crypto::SystemRandom rng;
  core::Peer peer(other, daemon_->public_key(), core::PeerConfig{}, rng);
  const core::Endpoint gateway = *daemon_->gateway_address();
  io::UdpSocket socket = *io::UdpSocket::Connect(gateway, {});
  core::PeerOutput out;
  peer.Connect(absl::Now(), out);
  const std::vector<uint8_t> initiation = out.to_network.at(0);
  ASSERT_EQ(send(socket.fd(), initiation.data(), initiation.size(), 0),
            static_cast<ssize_t>(initiation.size()));
  pollfd p{socket.fd(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10000), 1) << "no handshake response";

  const std::optional<core::Endpoint> victim_endpoint =
      core::Endpoint::Parse(victim_address);
  ASSERT_TRUE(victim_endpoint.has_value());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(SendSpoofed(*victim_endpoint, gateway, initiation));
  }
  // The replays are seen and refused.
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (Sample(Scrape(),
                "snaptun_packets_dropped_total{reason=\"replay\",role="
                "\"gateway\"}") < 3 &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_GE(Sample(Scrape(),
                   "snaptun_packets_dropped_total{reason=\"replay\",role="
                   "\"gateway\"}"),
            3);
  std::optional<v1::Tunnel> after = GatewayTunnelAt(victim_address);
  ASSERT_TRUE(after.has_value()) << "the victim's gateway tunnel is gone";
  EXPECT_EQ(after->tunnel_id(), before->tunnel_id());
  EXPECT_NE(after->state(), v1::TUNNEL_STATE_CLOSED);

  // And it still carries packets from the victim.
  auto client_context = Context();
  auto client = tunnels_->StreamPackets(client_context.get());
  auto gateway_context = Context();
  auto receiver = tunnels_->StreamPackets(gateway_context.get());
  v1::PacketBatch hello;
  hello.set_tunnel_id(after->tunnel_id());
  ASSERT_TRUE(receiver->Write(hello));
  v1::PacketBatch up;
  up.set_tunnel_id("victim");
  up.add_packets("still here");
  v1::PacketBatch got;
  bool seen = false;
  for (int i = 0; i < 50 && !seen; ++i) {
    ASSERT_TRUE(client->Write(up));
    if (receiver->Read(&got)) {
      for (const std::string& packet : got.packets()) {
        seen |= packet == "still here";
      }
    }
  }
  EXPECT_TRUE(seen);
  client_context->TryCancel();
  gateway_context->TryCancel();
}

// Peers that fill queues nobody reads: the ports together never hold more
// than the budget, and the refusals are counted.
TEST_F(AbuseTest, QueueFillingPeersStayWithinTheBudget) {
  DaemonConfig config;
  config.queue_bytes_per_tunnel = size_t{256} << 10;
  config.queue_budget_bytes = size_t{1} << 20;
  Start(config);
  Authorize(daemon_->public_key());
  ASSERT_EQ(OpenMany(8, "fill"), 0);
  const std::string big(60000, 'x');
  for (int i = 0; i < 8; ++i) {
    auto context = Context();
    auto stream = tunnels_->StreamPackets(context.get());
    for (int round = 0; round < 10; ++round) {
      v1::PacketBatch batch;
      batch.set_tunnel_id("fill" + std::to_string(i));
      for (int n = 0; n < 20; ++n) batch.add_packets(big);
      ASSERT_TRUE(stream->Write(batch));
    }
    stream->WritesDone();
    EXPECT_TRUE(stream->Finish().ok());
  }
  // Nobody reads the gateway side: its ports fill up to the budget.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  std::string scrape = Scrape();
  while (Sample(scrape, "snaptun_queue_budget_refusals_total") <= 0 &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
    scrape = Scrape();
  }
  EXPECT_GT(Sample(scrape, "snaptun_queue_budget_refusals_total"), 0);
  EXPECT_LE(Sample(scrape, "snaptun_queue_budget_bytes{kind=\"used\"}"),
            static_cast<double>(config.queue_budget_bytes));
  EXPECT_EQ(Sample(scrape, "snaptun_queue_budget_bytes{kind=\"limit\"}"),
            static_cast<double>(config.queue_budget_bytes));
}

// Slowloris: idle TCP connections to the exporter and to the gRPC port.
// The probes and the API keep answering.
TEST_F(AbuseTest, IdleConnectionsFreezeNeitherProbesNorTheApi) {
  Start();
  std::vector<int> idle;
  for (int i = 0; i < 12; ++i) {
    idle.push_back(testing::IdleTcpConnection(daemon_->metrics_port()));
    idle.push_back(testing::IdleTcpConnection(daemon_->grpc_port()));
  }
  std::string body;
  EXPECT_EQ(HttpGet(daemon_->metrics_port(), "/healthz", &body), 200);
  EXPECT_EQ(HttpGet(daemon_->metrics_port(), "/readyz", &body), 200);
  v1::ListTunnelsResponse listed;
  EXPECT_TRUE(
      tunnels_->ListTunnels(Context(absl::Seconds(10)).get(), {}, &listed)
          .ok());
  for (int fd : idle) close(fd);
}

// WatchTunnels with include_existing over more tunnels than a watcher's
// queue holds: every existing tunnel is reported (it used to fail with
// RESOURCE_EXHAUSTED above 4 096).
TEST_F(AbuseTest, WatchTunnelsReplaysThousandsOfExistingTunnels) {
  const char* env = std::getenv("SNAPTUN_WATCH_OPENS");
  const int opens = env != nullptr ? std::atoi(env) : 2500;
  DaemonConfig config;
  config.max_tunnels_per_identity = 100000;  // All to the daemon's own key.
  Start(config);
  Authorize(daemon_->public_key());
  ASSERT_LE(OpenMany(opens, "w"), opens / 1000);
  const size_t tunnels = daemon_->sessions().size();
  auto context = Context(absl::Seconds(120));
  v1::WatchTunnelsRequest request;
  request.set_include_existing(true);
  auto reader = tunnels_->WatchTunnels(context.get(), request);
  size_t existing = 0;
  v1::TunnelEvent event;
  while (existing < tunnels && reader->Read(&event)) {
    if (event.type() == v1::TunnelEvent::OPENED && event.reason() == "existing")
      ++existing;
  }
  EXPECT_EQ(existing, tunnels);
  context->TryCancel();
  const grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::CANCELLED) << status.error_message();
}

// A flood of watchers: beyond --max_watchers they are refused with
// RESOURCE_EXHAUSTED, and those admitted still get their events.
TEST_F(AbuseTest, WatcherFloodIsRefusedBeyondTheLimit) {
  DaemonConfig config;
  config.max_watchers = 8;
  Start(config);
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::TunnelEvent>>> readers;
  for (int i = 0; i < 8; ++i) {
    contexts.push_back(Context());
    readers.push_back(tunnels_->WatchTunnels(contexts.back().get(), {}));
    readers.back()->WaitForInitialMetadata();
  }
  for (int i = 0; i < 20; ++i) {
    auto context = Context();
    auto refused = tunnels_->WatchTunnels(context.get(), {});
    v1::TunnelEvent event;
    EXPECT_FALSE(refused->Read(&event));
    EXPECT_EQ(refused->Finish().error_code(), grpc::RESOURCE_EXHAUSTED);
  }
  EXPECT_EQ(daemon_->sessions().watchers(), 8u);
  std::string scrape;
  ASSERT_EQ(HttpGet(daemon_->metrics_port(), "/metrics", &scrape), 200);
  EXPECT_EQ(Sample(scrape, "snaptun_watchers{kind=\"open\"}"), 8);
  EXPECT_EQ(Sample(scrape, "snaptun_watchers{kind=\"limit\"}"), 8);
  Authorize(daemon_->public_key());
  v1::Tunnel tunnel;
  ASSERT_TRUE(OpenToSelf("seen", &tunnel).ok());
  for (auto& reader : readers) {
    v1::TunnelEvent event;
    ASSERT_TRUE(reader->Read(&event));
    EXPECT_EQ(event.type(), v1::TunnelEvent::OPENED);
  }
  for (auto& context : contexts) context->TryCancel();
  for (auto& reader : readers) reader->Finish();
}

// Prometheus keeps scraping while a daemon shuts down: every scrape finds
// what it reads (sessions, quota, budget) alive, or finds the port closed.
TEST_F(AbuseTest, ScrapesWhileTheDaemonShutsDownReadNothingFreed) {
  Start();
  Authorize(daemon_->public_key());
  v1::Tunnel tunnel;
  ASSERT_TRUE(OpenToSelf("scraped", &tunnel).ok());
  const int port = daemon_->metrics_port();
  std::atomic<bool> stop{false};
  std::atomic<int> served{0};
  std::thread scraper([&] {
    while (!stop.load()) {
      std::string body;
      if (HttpGet(port, "/metrics", &body) == 200) ++served;
    }
  });
  while (served.load() < 3) absl::SleepFor(absl::Milliseconds(1));
  daemon_.reset();  // Drain, then destruction, while scrapes go on.
  stop = true;
  scraper.join();
  EXPECT_GE(served.load(), 3);
}

}  // namespace
}  // namespace snaptun::service
