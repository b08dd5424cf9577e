// The multiplexed gateway packet stream (StreamGatewayPackets) and the SCION
// packet policy, end to end: a real daemon, real gRPC streams, and SNAP
// clients (tests/testing/load_clients.h) sending real SCION packets over
// loopback. A thousand tunnels share two streams; every packet must reach the
// right stream with the right handle, and every answer the right client,
// whether it names its tunnel by handle or by SCION destination.
#include "service/gateway_mux.h"

#include <poll.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "proto/snaptun/v1/snaptun.grpc.pb.h"
#include "service/daemon/daemon.h"
#include "tests/testing/load_clients.h"
#include "tests/testing/loopback_daemon.h"
#include "tests/testing/scrape.h"
#include "tunnel/core/messages.h"
#include "tunnel/scion/builder.h"
#include "tunnel/scion/packet.h"

namespace snaptun::service {
namespace {

using Stream =
    grpc::ClientReaderWriter<v1::GatewayPacketBatch, v1::GatewayPacketBatch>;

const scion::IsdAs kClientIa = *scion::IsdAs::Parse("1-ff00:0:110");
const scion::IsdAs kServerIa = *scion::IsdAs::Parse("2-ff00:0:220");
const core::Endpoint kServer = core::Endpoint::Ipv4({10, 0, 0, 1}, 8080);

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/" + name + "-" + std::to_string(getpid());
}

std::string Text(absl::Span<const uint8_t> bytes) {
  return std::string(bytes.begin(), bytes.end());
}

std::vector<uint8_t> Udp(const core::Endpoint& src, const core::Endpoint& dst,
                         const std::string& text, bool up = true,
                         uint8_t path_type = 1) {
  scion::BuildSpec spec;
  spec.src_ia = up ? kClientIa : kServerIa;
  spec.dst_ia = up ? kServerIa : kClientIa;
  spec.src = src;
  spec.dst = dst;
  spec.path_type = path_type;
  spec.payload.assign(text.begin(), text.end());
  return scion::BuildUdp(spec);
}

// The UDP payload of a SCION packet, as text ("" when it does not parse).
std::string UdpText(absl::Span<const uint8_t> packet) {
  scion::PacketView view;
  if (scion::Parse(packet, view) != scion::ParseError::kNone ||
      view.l4 != scion::L4::kUdp) {
    return "";
  }
  return Text(packet.subspan(view.l4_offset + 8));
}

// One multiplexed stream, read on a thread of its own.
class MuxReader {
 public:
  struct Arrival {
    uint32_t handle;
    std::string packet;
  };

  MuxReader(v1::GatewayService::Stub& stub, uint32_t shard, uint32_t count,
            const std::string& token = "")
      : shard_(shard) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(2)));
    if (!token.empty()) {
      context_.AddMetadata("authorization", "Bearer " + token);
    }
    stream_ = stub.StreamGatewayPackets(&context_);
    v1::GatewayPacketBatch first;
    first.set_shard(shard);
    first.set_shard_count(count);
    stream_->Write(first);
    reader_ = std::thread([this] { Read(); });
  }
  ~MuxReader() {
    if (reader_.joinable()) {
      context_.TryCancel();
      reader_.join();
      stream_->Finish();
    }
  }

  // Half-closes; the server ends the stream with OK.
  grpc::Status Close() {
    if (reader_.joinable()) {
      stream_->WritesDone();
      reader_.join();
      status_ = stream_->Finish();
    }
    return status_;
  }
  // Waits for the server to end the stream.
  grpc::Status Ended() {
    reader_.join();
    status_ = stream_->Finish();
    return status_;
  }
  bool Write(const v1::GatewayPacketBatch& batch) {
    return stream_->Write(batch);
  }
  uint32_t shard() const { return shard_; }

  size_t arrived() const {
    absl::MutexLock lock(&mu_);
    return arrivals_.size();
  }
  std::vector<Arrival> arrivals() const {
    absl::MutexLock lock(&mu_);
    return arrivals_;
  }
  // The handle of the tunnel with this remote address, 0 if unannounced.
  uint32_t HandleAt(const std::string& remote) const {
    absl::MutexLock lock(&mu_);
    auto it = by_remote_.find(remote);
    return it == by_remote_.end() ? 0 : it->second;
  }
  v1::GatewayTunnelHandle Tunnel(uint32_t handle) const {
    absl::MutexLock lock(&mu_);
    auto it = tunnels_.find(handle);
    return it == tunnels_.end() ? v1::GatewayTunnelHandle{} : it->second;
  }
  std::set<uint32_t> released() const {
    absl::MutexLock lock(&mu_);
    return released_;
  }
  bool WaitFor(size_t arrivals, absl::Duration timeout) const {
    const absl::Time deadline = absl::Now() + timeout;
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return arrivals_.size() >= arrivals;
    };
    return mu_.AwaitWithDeadline(absl::Condition(&enough), deadline);
  }

 private:
  void Read() {
    v1::GatewayPacketBatch batch;
    while (stream_->Read(&batch)) {
      absl::MutexLock lock(&mu_);
      for (const v1::GatewayTunnelHandle& t : batch.announced()) {
        EXPECT_FALSE(tunnels_.contains(t.handle())) << "handle reused";
        tunnels_[t.handle()] = t;
        by_remote_[t.remote_address()] = t.handle();
      }
      for (uint32_t h : batch.released()) released_.insert(h);
      EXPECT_EQ(batch.handles_size(), batch.packets_size());
      for (int i = 0; i < batch.packets_size(); ++i) {
        EXPECT_TRUE(tunnels_.contains(batch.handles(i)))
            << "a packet's handle was not announced first";
        arrivals_.push_back(Arrival{batch.handles(i), batch.packets(i)});
      }
    }
  }

  const uint32_t shard_;
  grpc::ClientContext context_;
  std::unique_ptr<Stream> stream_;
  std::thread reader_;
  grpc::Status status_;
  mutable absl::Mutex mu_;
  std::vector<Arrival> arrivals_ ABSL_GUARDED_BY(mu_);
  std::map<uint32_t, v1::GatewayTunnelHandle> tunnels_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint32_t> by_remote_ ABSL_GUARDED_BY(mu_);
  std::set<uint32_t> released_ ABSL_GUARDED_BY(mu_);
};

class GatewayMuxTest : public ::testing::Test {
 protected:
  void Start(size_t clients, DaemonConfig config = {}) {
    testing::UseLoopbackGateway(config, TempPath("mux-key"));
    config.gateway_packet_policy = PacketPolicyKind::kScion;
    absl::StatusOr<std::unique_ptr<Daemon>> daemon = Daemon::Start(config);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(*daemon);
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", daemon_->grpc_port()),
                            grpc::InsecureChannelCredentials());
    gateway_stub_ = v1::GatewayService::NewStub(channel_);
    tunnel_stub_ = v1::TunnelService::NewStub(channel_);
    gateway_ = *daemon_->gateway_address();
    clients_ = testing::MakeLoadClients(clients, daemon_->public_key(), rng_);
    for (const testing::LoadClient& c : clients_) {
      v1::AuthorizeIdentityRequest request;
      request.set_public_key(std::string(
          reinterpret_cast<const char*>(c.identity->public_key().data()), 32));
      v1::AuthorizeIdentityResponse response;
      grpc::ClientContext context;
      ASSERT_TRUE(
          gateway_stub_->AuthorizeIdentity(&context, request, &response).ok());
    }
  }
  void Handshake() {
    size_t answered = 0;
    testing::RunLoadHandshakes(clients_, gateway_, true, answered, &socket_);
    ASSERT_EQ(answered, clients_.size());
  }
  void TearDown() override {
    if (daemon_) daemon_->Drain();
  }

  core::Endpoint ClientAt(size_t i) const { return socket_.EndpointOf(i); }
  // Seals `payload` for the gateway as client i and sends it.
  void SendAs(size_t i, absl::Span<const uint8_t> payload) {
    std::vector<uint8_t> datagram(
        core::Peer::SealedSize(payload.size(), core::Mode::kSnap));
    core::PeerOutput out;
    const core::SendResult sent = clients_[i].peer->Send(
        absl::Now(), payload, absl::MakeSpan(datagram), out);
    ASSERT_EQ(sent.status, core::SendOutcome::kSent);
    datagram.resize(sent.size);
    socket_.Send(i, gateway_, datagram);
  }
  // Data packets the clients receive within `timeout`, by client index, as
  // UDP payload text; stops once `count` have arrived.
  std::multimap<size_t, std::string> ReceiveAtClients(size_t count,
                                                      absl::Duration timeout) {
    std::multimap<size_t, std::string> got;
    const absl::Time deadline = absl::Now() + timeout;
    core::PeerOutput out;
    while (got.size() < count && absl::Now() < deadline) {
      pollfd p{socket_.fd(), POLLIN, 0};
      poll(&p, 1, 50);
      socket_.Receive([&](size_t index, absl::Span<uint8_t> d) {
        if (index >= clients_.size()) return;
        const std::optional<core::MessageType> type =
            core::Classify(d, core::Mode::kSnap);
        if (!type.has_value()) return;
        out.Clear();
        const core::ReceiveResult r =
            clients_[index].peer->Receive(absl::Now(), *type, d, gateway_, out);
        if (r.kind == core::ReceiveResult::Kind::kData) {
          got.emplace(index, UdpText(r.payload));
        }
      });
    }
    return got;
  }
  v1::Tunnel GetTunnel(const std::string& id) {
    v1::GetTunnelRequest request;
    request.set_tunnel_id(id);
    v1::Tunnel tunnel;
    grpc::ClientContext context;
    EXPECT_TRUE(tunnel_stub_->GetTunnel(&context, request, &tunnel).ok());
    return tunnel;
  }
  double Metric(const std::string& series) {
    std::string body;
    EXPECT_EQ(testing::HttpGet(daemon_->metrics_port(), "/metrics", &body),
              200);
    return testing::Sample(body, series);
  }

  crypto::SystemRandom rng_;
  std::unique_ptr<Daemon> daemon_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::GatewayService::Stub> gateway_stub_;
  std::unique_ptr<v1::TunnelService::Stub> tunnel_stub_;
  core::Endpoint gateway_;
  testing::MultiSourceSocket socket_;
  std::vector<testing::LoadClient> clients_;
};

TEST_F(GatewayMuxTest, ThousandTunnelsShareTwoStreamsBothWays) {
  constexpr size_t kClients = 1000;
  Start(kClients);
  // Shard 0 is open while tunnels are accepted, shard 1 claims them after.
  MuxReader shard0(*gateway_stub_, 0, 2);
  Handshake();
  MuxReader shard1(*gateway_stub_, 1, 2);
  MuxReader* readers[] = {&shard0, &shard1};

  for (size_t i = 0; i < kClients; ++i) {
    SendAs(i, Udp(ClientAt(i), kServer, absl::StrCat("up ", i)));
  }
  auto total = [&] { return shard0.arrived() + shard1.arrived(); };
  for (absl::Time end = absl::Now() + absl::Seconds(30);
       total() < kClients && absl::Now() < end;) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(total(), kClients);

  // Each client's packet arrived once, on its tunnel's shard, tagged with
  // the handle announced for its address.
  std::set<size_t> seen;
  for (MuxReader* reader : readers) {
    EXPECT_GT(reader->arrived(), kClients / 4) << "shard " << reader->shard();
    for (const MuxReader::Arrival& a : reader->arrivals()) {
      const std::string text = UdpText(absl::MakeConstSpan(
          reinterpret_cast<const uint8_t*>(a.packet.data()), a.packet.size()));
      ASSERT_EQ(text.rfind("up ", 0), 0u) << text;
      const size_t i = std::stoul(text.substr(3));
      EXPECT_TRUE(seen.insert(i).second) << "client " << i << " twice";
      const v1::GatewayTunnelHandle t = reader->Tunnel(a.handle);
      EXPECT_EQ(t.remote_address(), ClientAt(i).ToString());
      EXPECT_EQ(MuxShardOf(t.tunnel_id(), 2), reader->shard());
    }
  }
  EXPECT_EQ(seen.size(), kClients);

  // Answers: even clients by handle, odd ones by SCION destination only,
  // plus one packet for nobody and one that is not SCION.
  std::map<std::string, size_t> index_of;
  for (size_t i = 0; i < kClients; ++i) index_of[ClientAt(i).ToString()] = i;
  for (MuxReader* reader : readers) {
    v1::GatewayPacketBatch batch;
    for (const MuxReader::Arrival& a : reader->arrivals()) {
      const v1::GatewayTunnelHandle t = reader->Tunnel(a.handle);
      const core::Endpoint to = *core::Endpoint::Parse(t.remote_address());
      const size_t i = index_of.at(t.remote_address());
      const std::vector<uint8_t> p =
          Udp(kServer, to, absl::StrCat("down ", i), false);
      batch.add_packets(p.data(), p.size());
      batch.add_handles(i % 2 == 0 ? a.handle : 0);
      if (batch.packets_size() == 100) {
        ASSERT_TRUE(reader->Write(batch));
        batch.Clear();
      }
    }
    const std::vector<uint8_t> nobody =
        Udp(kServer, core::Endpoint::Ipv4({127, 99, 0, 1}, 1), "lost", false);
    batch.add_packets(nobody.data(), nobody.size());
    batch.add_handles(0);
    batch.add_packets("not a SCION packet");
    batch.add_handles(0);
    ASSERT_TRUE(reader->Write(batch));
  }
  const std::multimap<size_t, std::string> got =
      ReceiveAtClients(kClients, absl::Seconds(30));
  ASSERT_EQ(got.size(), kClients);
  for (const auto& [i, text] : got) {
    EXPECT_EQ(text, absl::StrCat("down ", i));
  }
  EXPECT_EQ(Metric("snaptun_packets_dropped_total{reason=\"no_tunnel\",role="
                   "\"gateway\"}"),
            2);
  EXPECT_EQ(Metric("snaptun_packets_dropped_total{reason=\"malformed_packet\","
                   "role=\"gateway\"}"),
            2);
  EXPECT_TRUE(shard0.Close().ok());
  EXPECT_TRUE(shard1.Close().ok());
}

TEST_F(GatewayMuxTest, PolicyDropsEachReasonIncludingASpoofedPort) {
  Start(4);
  MuxReader mux(*gateway_stub_, 0, 1);
  Handshake();
  const core::Endpoint c0 = ClientAt(0);
  // Client 0 claims its own IP with another port (W20), client 1 another
  // client's address, client 2 a path type the gateway does not route,
  // client 3 sends no SCION packet at all.
  SendAs(0, Udp(core::Endpoint::Ipv4({127, 1, 0, 1}, c0.port() + 1), kServer,
                "spoofed port"));
  SendAs(1, Udp(ClientAt(2), kServer, "spoofed address"));
  SendAs(2, Udp(ClientAt(2), kServer, "one-hop path", true, 2));
  const std::string garbage = "this is not SCION";
  SendAs(3,
         absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(garbage.data()),
                             garbage.size()));
  // An echo request must carry the client's port as its identifier.
  scion::BuildSpec echo;
  echo.src_ia = kClientIa;
  echo.dst_ia = kServerIa;
  echo.src = c0;
  echo.dst = kServer;
  SendAs(0, scion::BuildScmpEcho(echo, 128, c0.port() + 1, 1));
  SendAs(0, scion::BuildScmpEcho(echo, 128, c0.port(), 2));
  // Then one good packet each: once they are through, so are the drops.
  for (size_t i = 0; i < 4; ++i) {
    SendAs(i, Udp(ClientAt(i), kServer, absl::StrCat("good ", i)));
  }
  ASSERT_TRUE(mux.WaitFor(5, absl::Seconds(20)));
  absl::SleepFor(absl::Milliseconds(200));
  std::vector<std::string> texts;
  for (const MuxReader::Arrival& a : mux.arrivals()) {
    const auto bytes = absl::MakeConstSpan(
        reinterpret_cast<const uint8_t*>(a.packet.data()), a.packet.size());
    scion::PacketView view;
    ASSERT_EQ(scion::Parse(bytes, view), scion::ParseError::kNone);
    texts.push_back(view.l4 == scion::L4::kScmp ? "echo" : UdpText(bytes));
  }
  EXPECT_EQ(texts.size(), 5u);
  EXPECT_EQ(std::count(texts.begin(), texts.end(), "echo"), 1);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(std::count(texts.begin(), texts.end(), absl::StrCat("good ", i)),
              1);
  }
  auto drops = [&](size_t i) {
    const uint32_t handle = mux.HandleAt(ClientAt(i).ToString());
    return GetTunnel(mux.Tunnel(handle).tunnel_id()).counters().drops();
  };
  EXPECT_EQ(drops(0).invalid_source_address(), 2u);
  EXPECT_EQ(drops(1).invalid_source_address(), 1u);
  EXPECT_EQ(drops(2).invalid_path_type(), 1u);
  EXPECT_EQ(drops(3).malformed_packet(), 1u);
  EXPECT_EQ(drops(3).invalid_source_address(), 0u);
  EXPECT_EQ(Metric("snaptun_packets_dropped_total{reason=\"invalid_source_"
                   "address\",role=\"gateway\"}"),
            3);
}

TEST_F(GatewayMuxTest, PerTunnelStreamTakesATunnelOverAndGivesItBack) {
  Start(1);
  MuxReader mux(*gateway_stub_, 0, 1);
  Handshake();
  SendAs(0, Udp(ClientAt(0), kServer, "one"));
  ASSERT_TRUE(mux.WaitFor(1, absl::Seconds(20)));
  const uint32_t first = mux.arrivals()[0].handle;
  const std::string id = mux.Tunnel(first).tunnel_id();

  // Without takeover, the tunnel stays with the multiplexed stream.
  {
    grpc::ClientContext context;
    auto stream = tunnel_stub_->StreamPackets(&context);
    v1::PacketBatch hello;
    hello.set_tunnel_id(id);
    stream->Write(hello);
    v1::PacketBatch ignored;
    EXPECT_FALSE(stream->Read(&ignored));
    EXPECT_EQ(stream->Finish().error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
  }
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    auto stream = tunnel_stub_->StreamPackets(&context);
    v1::PacketBatch hello;
    hello.set_tunnel_id(id);
    hello.set_takeover(true);
    ASSERT_TRUE(stream->Write(hello));
    // The multiplexed stream learns of the takeover as a released handle.
    const absl::Time released_by = absl::Now() + absl::Seconds(30);
    while (!mux.released().contains(first) && absl::Now() < released_by) {
      absl::SleepFor(absl::Milliseconds(20));
      SendAs(0, Udp(ClientAt(0), kServer, "while taking over"));
    }
    ASSERT_TRUE(mux.released().contains(first));
    SendAs(0, Udp(ClientAt(0), kServer, "two"));
    // Packets sent while taking over come first, then "two".
    v1::PacketBatch got;
    std::string last;
    while (last != "two" && stream->Read(&got)) {
      for (const std::string& p : got.packets()) {
        last = UdpText(absl::MakeConstSpan(
            reinterpret_cast<const uint8_t*>(p.data()), p.size()));
      }
    }
    EXPECT_EQ(last, "two");
    stream->WritesDone();
    context.TryCancel();
    stream->Finish();
  }
  // Back on the multiplexed stream, under a new handle.
  const size_t before = mux.arrived();
  const absl::Time back_by = absl::Now() + absl::Seconds(30);
  while (mux.arrived() == before && absl::Now() < back_by) {
    SendAs(0, Udp(ClientAt(0), kServer, "three"));
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_GT(mux.arrived(), before);
  const uint32_t second = mux.arrivals().back().handle;
  EXPECT_NE(second, first);
  EXPECT_EQ(mux.Tunnel(second).tunnel_id(), id);
}

TEST_F(GatewayMuxTest, SharesAreCheckedAndAShardHasOneStream) {
  Start(0);
  MuxReader a(*gateway_stub_, 0, 2);
  absl::SleepFor(absl::Milliseconds(200));  // Attached.
  MuxReader same(*gateway_stub_, 0, 2);
  EXPECT_EQ(same.Ended().error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  MuxReader other_split(*gateway_stub_, 1, 3);
  EXPECT_EQ(other_split.Ended().error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  MuxReader out_of_range(*gateway_stub_, 2, 2);
  EXPECT_EQ(out_of_range.Ended().error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // One handle for two packets.
  v1::GatewayPacketBatch bad;
  bad.add_packets("x");
  bad.add_packets("y");
  bad.add_handles(1);
  a.Write(bad);
  EXPECT_EQ(a.Ended().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(GatewayMuxTest, ARouterThatDoesNotReadCostsCountedDropsNotMemory) {
  // 24 MB: more than gRPC's flow-control windows buffer on the way.
  constexpr size_t kClients = 20;
  constexpr size_t kPerClient = 1000;
  DaemonConfig config;
  config.queue_bytes_per_tunnel = 64 << 10;
  config.queue_budget_bytes = 512 << 10;
  config.socket.gro = false;  // socket_overflow exact (docs/OPERATIONS.md).
  Start(kClients, config);
  // Attached, but reads nothing until the clients are done.
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(1)));
  auto stream = gateway_stub_->StreamGatewayPackets(&context);
  v1::GatewayPacketBatch first;
  first.set_shard_count(1);
  ASSERT_TRUE(stream->Write(first));
  Handshake();
  for (size_t n = 0; n < kPerClient; ++n) {
    for (size_t i = 0; i < kClients; ++i) {
      SendAs(i, Udp(ClientAt(i), kServer, std::string(1200, 'p')));
    }
    // Paced, so the gateway's socket buffer rarely overflows; what it
    // drops is counted as socket_overflow and taken out below.
    if (n % 10 == 9) absl::SleepFor(absl::Milliseconds(10));
  }
  const std::string budget = "snaptun_queue_budget_bytes{kind=\"used\"}";
  const std::string full =
      "snaptun_packets_dropped_total{reason=\"receive_queue_full\",role="
      "\"gateway\"}";
  const std::string overflow_series =
      "snaptun_packets_dropped_total{reason=\"socket_overflow\",role="
      "\"gateway\"}";
  // Until the gateway has read everything: its counts hold still.
  double last = -1;
  for (int n = 0; n < 100; ++n) {
    absl::SleepFor(absl::Milliseconds(200));
    const double now = Metric(full) + Metric(overflow_series);
    if (now == last && now > 0) break;
    last = now;
  }
  // What the gateway holds for the stream stays within the budget, whatever
  // the clients send; the rest is counted.
  EXPECT_LE(Metric(budget), 512 << 10);
  const double dropped = Metric(full);
  EXPECT_GT(dropped, 0);
  // Reading now: what was held arrives, and the drops are reported.
  const double overflow = Metric(
      "snaptun_packets_dropped_total{reason=\"socket_overflow\",role="
      "\"gateway\"}");
  const size_t expected = kClients * kPerClient - static_cast<size_t>(overflow);
  uint64_t reported = 0;
  size_t arrived = 0;
  v1::GatewayPacketBatch batch;
  while (arrived + reported < expected && stream->Read(&batch)) {
    arrived += batch.packets_size();
    reported += batch.dropped();
  }
  EXPECT_EQ(reported, static_cast<uint64_t>(dropped));
  EXPECT_EQ(arrived + reported, expected);
  context.TryCancel();
  stream->Finish();
}

TEST_F(GatewayMuxTest, CountsTrafficByIsdAsOnTheAllowList) {
  DaemonConfig config;
  config.gateway_ia_accounting = {kServerIa};
  Start(1, config);
  MuxReader mux(*gateway_stub_, 0, 1);
  Handshake();
  SendAs(0, Udp(ClientAt(0), kServer, "counted"));
  // Destination ISD-AS 3-ff00:0:330, not on the list.
  scion::BuildSpec spec;
  spec.src_ia = kClientIa;
  spec.dst_ia = *scion::IsdAs::Parse("3-ff00:0:330");
  spec.src = ClientAt(0);
  spec.dst = kServer;
  spec.payload = {'x'};
  SendAs(0, scion::BuildUdp(spec));
  ASSERT_TRUE(mux.WaitFor(2, absl::Seconds(20)));
  v1::GatewayPacketBatch answer;
  const std::vector<uint8_t> down = Udp(kServer, ClientAt(0), "down", false);
  answer.add_packets(down.data(), down.size());
  ASSERT_TRUE(mux.Write(answer));
  ASSERT_EQ(ReceiveAtClients(1, absl::Seconds(20)).size(), 1u);
  const std::string known = "ia=\"2-ff00:0:220\"}";
  EXPECT_EQ(
      Metric("snaptun_gateway_ia_packets_total{direction=\"ingress\"," + known),
      1);
  EXPECT_EQ(Metric("snaptun_gateway_ia_packets_total{direction=\"ingress\","
                   "ia=\"other\"}"),
            1);
  EXPECT_EQ(
      Metric("snaptun_gateway_ia_packets_total{direction=\"egress\"," + known),
      1);
  EXPECT_EQ(
      Metric("snaptun_gateway_ia_bytes_total{direction=\"egress\"," + known),
      static_cast<double>(down.size()));
}

}  // namespace
}  // namespace snaptun::service
