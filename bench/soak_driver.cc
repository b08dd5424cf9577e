// The soak load: everything a long-running gateway meets, at once, against
// one snaptund (its own gateway) until --seconds pass. Tunnel churn (open
// one, close the oldest and its gateway side), steady traffic through a
// StreamPackets pair, stream attach/detach on another tunnel, WatchTunnels
// churn with include_existing, and a flood of initiations from identities
// the gateway never authorized. bench/soak.sh samples the daemon meanwhile.
//   soak_driver --server=127.0.0.1:PORT --seconds=600
#include <sys/socket.h>

#include <atomic>
#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "proto/snaptun/v1/snaptun.grpc.pb.h"
#include "tests/testing/keys.h"
#include "tunnel/core/peer.h"
#include "tunnel/crypto/random.h"
#include "tunnel/io/udp_socket.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051", "snaptund's gRPC address");
ABSL_FLAG(int, seconds, 600, "how long to run");
ABSL_FLAG(int, pool, 32, "churned client tunnels held at once");
ABSL_FLAG(int, flood_rate, 500, "unauthorized initiations per second");

namespace snaptun::bench {
namespace {

using Stream = grpc::ClientReaderWriter<v1::PacketBatch, v1::PacketBatch>;

class Soak {
 public:
  explicit Soak(const std::string& server)
      : channel_(
            grpc::CreateChannel(server, grpc::InsecureChannelCredentials())),
        tunnels_(v1::TunnelService::NewStub(channel_)),
        gateway_(v1::GatewayService::NewStub(channel_)) {}

  bool Setup() {
    grpc::ClientContext context;
    v1::GetGatewayInfoResponse info;
    const grpc::Status s = gateway_->GetGatewayInfo(&context, {}, &info);
    if (!s.ok()) {
      std::fprintf(stderr, "GetGatewayInfo: %s\n", s.error_message().c_str());
      return false;
    }
    key_ = info.public_key();
    if (info.listen_addresses_size() == 0) return false;
    data_plane_ = info.listen_addresses(0);
    grpc::ClientContext auth_context;
    v1::AuthorizeIdentityRequest request;
    request.set_public_key(key_);
    v1::AuthorizeIdentityResponse response;
    return gateway_->AuthorizeIdentity(&auth_context, request, &response).ok();
  }

  void Run(absl::Duration duration) {
    const absl::Time end = absl::Now() + duration;
    std::vector<std::thread> threads;
    threads.emplace_back([&] { Churn(end); });
    threads.emplace_back([&] { Traffic(end); });
    threads.emplace_back([&] { AttachDetach(end); });
    threads.emplace_back([&] { Watchers(end); });
    threads.emplace_back([&] { Flood(end); });
    for (auto& t : threads) t.join();
    std::printf(
        "opens %llu closes %llu packets %llu attaches %llu watches "
        "%llu initiations %llu errors %llu\n",
        Count(opens_), Count(closes_), Count(packets_), Count(attaches_),
        Count(watches_), Count(initiations_), Count(errors_));
  }

  uint64_t errors() const { return errors_.load(); }

 private:
  static unsigned long long Count(const std::atomic<uint64_t>& n) {
    return static_cast<unsigned long long>(n.load());
  }
  std::unique_ptr<grpc::ClientContext> Context(absl::Duration d) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + d));
    return context;
  }
  // Opens a client tunnel to the daemon's own gateway; its local address.
  std::optional<std::string> Open(const std::string& id) {
    v1::OpenTunnelRequest request;
    request.set_tunnel_id(id);
    request.set_peer_public_key(key_);
    request.set_data_plane_address(data_plane_);
    request.mutable_connect_timeout()->set_seconds(15);
    v1::Tunnel tunnel;
    if (!tunnels_
             ->OpenTunnel(Context(absl::Seconds(30)).get(), request, &tunnel)
             .ok()) {
      ++errors_;
      return std::nullopt;
    }
    ++opens_;
    return tunnel.local_address();
  }
  // Closes a client tunnel and the gateway side that served it (the
  // protocol has no close message; an orchestrator closes both).
  void Close(const std::string& id, const std::string& local) {
    const std::string gateway_id = GatewaySide(local);
    for (const std::string& closing : {id, gateway_id}) {
      if (closing.empty()) continue;
      v1::CloseTunnelRequest close;
      close.set_tunnel_id(closing);
      v1::CloseTunnelResponse closed;
      tunnels_->CloseTunnel(Context(absl::Seconds(10)).get(), close, &closed);
    }
    ++closes_;
  }

  void Churn(absl::Time end) {
    std::deque<std::pair<std::string, std::string>> held;
    uint64_t n = 0;
    while (absl::Now() < end) {
      const std::string id = absl::StrCat("churn-", n++);
      if (std::optional<std::string> local = Open(id))
        held.emplace_back(id, *local);
      while (static_cast<int>(held.size()) > absl::GetFlag(FLAGS_pool)) {
        Close(held.front().first, held.front().second);
        held.pop_front();
      }
    }
    for (const auto& [id, local] : held) Close(id, local);
  }

  // The gateway-side tunnel id of the client tunnel at `local`.
  std::string GatewaySide(const std::string& local) {
    v1::ListTunnelsRequest list;
    list.set_role(v1::ROLE_GATEWAY);
    list.set_page_size(1000);
    v1::ListTunnelsResponse page;
    tunnels_->ListTunnels(Context(absl::Seconds(10)).get(), list, &page);
    for (const v1::Tunnel& t : page.tunnels()) {
      if (t.remote_address() == local) return t.tunnel_id();
    }
    return "";
  }

  // 1 000-byte packets at about 2 000 per second, client to gateway.
  void Traffic(absl::Time end) {
    std::optional<std::string> local = Open("traffic");
    if (!local.has_value()) return;
    const std::string gateway_id = GatewaySide(*local);
    auto send_context = Context(absl::InfiniteDuration());
    auto sender = tunnels_->StreamPackets(send_context.get());
    auto receive_context = Context(absl::InfiniteDuration());
    auto receiver = tunnels_->StreamPackets(receive_context.get());
    v1::PacketBatch hello;
    hello.set_tunnel_id(gateway_id);
    receiver->Write(hello);
    std::thread reader([&] {
      v1::PacketBatch got;
      while (receiver->Read(&got)) packets_ += got.packets_size();
    });
    v1::PacketBatch batch;
    batch.set_tunnel_id("traffic");
    for (int i = 0; i < 20; ++i) batch.add_packets(std::string(1000, 'p'));
    while (absl::Now() < end) {
      if (!sender->Write(batch)) break;
      absl::SleepFor(absl::Milliseconds(10));
    }
    sender->WritesDone();
    sender->Finish();
    receive_context->TryCancel();
    reader.join();
    receiver->Finish();
  }

  void AttachDetach(absl::Time end) {
    if (!Open("attach").has_value()) return;
    v1::PacketBatch batch;
    batch.set_tunnel_id("attach");
    batch.add_packets("hello");
    while (absl::Now() < end) {
      auto context = Context(absl::Seconds(10));
      auto stream = tunnels_->StreamPackets(context.get());
      stream->Write(batch);
      stream->WritesDone();
      if (stream->Finish().ok()) {
        ++attaches_;
      } else {
        ++errors_;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  }

  void Watchers(absl::Time end) {
    while (absl::Now() < end) {
      auto context = Context(absl::Seconds(10));
      v1::WatchTunnelsRequest request;
      request.set_include_existing(true);
      auto reader = tunnels_->WatchTunnels(context.get(), request);
      v1::TunnelEvent event;
      for (int i = 0; i < 8 && reader->Read(&event); ++i) {
      }
      context->TryCancel();
      reader->Finish();
      ++watches_;
      absl::SleepFor(absl::Milliseconds(20));
    }
  }

  // Initiations from 256 identities the gateway never authorized: each
  // costs the gateway a static-key decryption before it refuses.
  void Flood(absl::Time end) {
    const std::optional<core::Endpoint> gateway =
        core::Endpoint::Parse(data_plane_);
    if (!gateway.has_value()) return;
    crypto::SystemRandom rng;
    crypto::PublicKey gateway_key{};
    std::copy(key_.begin(), key_.end(), gateway_key.begin());
    std::vector<std::vector<uint8_t>> initiations;
    for (int i = 0; i < 256; ++i) {
      core::LocalIdentity stranger(testing::FilledKey(static_cast<uint8_t>(i)));
      core::Peer peer(stranger, gateway_key, core::PeerConfig{}, rng);
      core::PeerOutput out;
      peer.Connect(absl::Now(), out);
      initiations.push_back(out.to_network.at(0));
    }
    absl::StatusOr<io::UdpSocket> socket = io::UdpSocket::Connect(*gateway, {});
    if (!socket.ok()) return;
    const int rate = absl::GetFlag(FLAGS_flood_rate);
    size_t i = 0;
    while (absl::Now() < end) {
      for (int n = 0; n < rate / 100; ++n, ++i) {
        const auto& d = initiations[i % initiations.size()];
        send(socket->fd(), d.data(), d.size(), 0);
        ++initiations_;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::TunnelService::Stub> tunnels_;
  std::unique_ptr<v1::GatewayService::Stub> gateway_;
  std::string key_;
  std::string data_plane_;
  std::atomic<uint64_t> opens_{0}, closes_{0}, packets_{0}, attaches_{0},
      watches_{0}, initiations_{0}, errors_{0};
};

}  // namespace
}  // namespace snaptun::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  snaptun::bench::Soak soak(absl::GetFlag(FLAGS_server));
  if (!soak.Setup()) return 1;
  soak.Run(absl::Seconds(absl::GetFlag(FLAGS_seconds)));
  return 0;
}
