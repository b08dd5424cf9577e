// The gateway's packets through the API: one multiplexed stream
// (StreamGatewayPackets) against one StreamPackets stream per tunnel, at 1,
// 100 and 10 000 tunnels (docs/PERFORMANCE.md).
//
//   gateway_mux_bench [TUNNELS ...]     default: 1 100 10000
//
// Each run starts a gateway daemon in this process, completes TUNNELS
// handshakes from load clients (tests/testing/load_clients.h), attaches the
// streams, and then sends pre-sealed datagrams round-robin over the tunnels
// with at most kWindow in flight, until every one has arrived at the API
// side; then the same number the other way, written to the API (by handle on
// the multiplexed stream) and counted as they reach the clients' socket.
// Per-tunnel streams are gRPC callback reactors on one channel, so the
// comparison is of the server's work per packet and per stream, not of
// client threads. Reported: packets per second arriving at the API, process
// CPU per packet (both sides and the clients' sends, the same in both
// modes), and heap bytes the attached streams hold at both ends, since both
// run in this process (glibc's count of bytes in use before and after
// attaching, not RSS; the multiplexed side includes the bench's 4-byte
// handle per tunnel).
#include <malloc.h>
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "proto/snaptun/v1/snaptun.grpc.pb.h"
#include "service/daemon/daemon.h"
#include "tests/testing/load_clients.h"
#include "tests/testing/loopback_daemon.h"

namespace snaptun {
namespace {

constexpr size_t kPayload = 512;
// At most one tunnel port's receive queue (1024 packets), so a single
// tunnel cannot overflow it while the stream writes.
constexpr size_t kWindow = 1024;

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// Packets that arrived at the API side, counted per batch, with a wait
// that sleeps instead of spinning (the sender's CPU counts too).
class Arrivals {
 public:
  void Add(uint64_t n) {
    absl::MutexLock lock(&mu_);
    count_ += n;
  }
  uint64_t count() const {
    absl::MutexLock lock(&mu_);
    return count_;
  }
  // Waits until more than `n` arrived or `timeout` passed; returns count.
  uint64_t WaitBeyond(uint64_t n, absl::Duration timeout) const {
    absl::MutexLock lock(&mu_);
    auto beyond = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return count_ > n; };
    mu_.AwaitWithTimeout(absl::Condition(&beyond), timeout);
    return count_;
  }

 private:
  mutable absl::Mutex mu_;
  uint64_t count_ ABSL_GUARDED_BY(mu_) = 0;
};

// One tunnel's StreamPackets as a callback reactor that counts arrivals.
class TunnelReader final
    : public grpc::ClientBidiReactor<v1::PacketBatch, v1::PacketBatch> {
 public:
  TunnelReader(v1::TunnelService::Stub& stub, const std::string& id,
               Arrivals& received, std::atomic<size_t>& attached,
               std::atomic<size_t>& done)
      : received_(received), attached_(attached), done_(done) {
    stub.async()->StreamPackets(&context_, this);
    first_.set_tunnel_id(id);
    StartWrite(&first_);
    StartRead(&in_);
    StartCall();
  }
  void Cancel() { context_.TryCancel(); }
  // Queues a payload for the tunnel; one write in flight, the rest batched.
  void Send(const std::string& payload) {
    absl::MutexLock lock(&mu_);
    if (writing_) {
      pending_.add_packets(payload);
      return;
    }
    out_.Clear();
    out_.add_packets(payload);
    writing_ = true;
    StartWrite(&out_);
  }
  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    if (!attached_once_) {
      attached_once_ = true;
      if (ok) attached_.fetch_add(1);
    }
    if (!ok || pending_.packets_size() == 0) {
      writing_ = false;
      return;
    }
    out_.Swap(&pending_);
    pending_.Clear();
    StartWrite(&out_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    received_.Add(in_.packets_size());
    StartRead(&in_);
  }
  void OnDone(const grpc::Status&) override { done_.fetch_add(1); }

 private:
  Arrivals& received_;
  std::atomic<size_t>& attached_;
  std::atomic<size_t>& done_;
  grpc::ClientContext context_;
  v1::PacketBatch first_;
  v1::PacketBatch in_;
  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = true;  // The first message.
  bool attached_once_ ABSL_GUARDED_BY(mu_) = false;
  v1::PacketBatch out_ ABSL_GUARDED_BY(mu_);
  v1::PacketBatch pending_ ABSL_GUARDED_BY(mu_);
};

class Receiver {
 public:
  virtual ~Receiver() = default;
  const Arrivals& arrivals() const { return arrivals_; }
  // Router to client `index`'s tunnel; Flush hands over what was queued.
  virtual void Send(size_t index, const std::string& payload) = 0;
  virtual void Flush() = 0;

 protected:
  Arrivals arrivals_;
};

class MuxReceiver final : public Receiver {
 public:
  // `index_of` maps a tunnel's remote address to its client's index.
  MuxReceiver(v1::GatewayService::Stub& stub,
              const std::map<std::string, size_t>& index_of)
      : index_of_(index_of), handles_(index_of_.size(), 0) {
    stream_ = stub.StreamGatewayPackets(&context_);
    v1::GatewayPacketBatch first;
    first.set_shard_count(1);
    stream_->Write(first);
    thread_ = std::thread([this] {
      v1::GatewayPacketBatch batch;
      while (stream_->Read(&batch)) {
        {
          absl::MutexLock lock(&mu_);
          for (const v1::GatewayTunnelHandle& t : batch.announced()) {
            auto it = index_of_.find(t.remote_address());
            if (it != index_of_.end()) handles_[it->second] = t.handle();
          }
        }
        arrivals_.Add(batch.packets_size());
      }
    });
  }
  ~MuxReceiver() override {
    context_.TryCancel();
    thread_.join();
    stream_->Finish();
  }
  void Send(size_t index, const std::string& payload) override {
    absl::MutexLock lock(&mu_);
    out_.add_packets(payload);
    out_.add_handles(handles_[index]);
  }
  void Flush() override {
    absl::MutexLock lock(&mu_);
    if (out_.packets_size() == 0) return;
    stream_->Write(out_);
    out_.Clear();
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::GatewayPacketBatch, v1::GatewayPacketBatch>>
      stream_;
  std::thread thread_;
  const std::map<std::string, size_t>& index_of_;  // Outlives this.
  absl::Mutex mu_;
  std::vector<uint32_t> handles_ ABSL_GUARDED_BY(mu_);
  v1::GatewayPacketBatch out_ ABSL_GUARDED_BY(mu_);
};

class PerTunnelReceiver final : public Receiver {
 public:
  PerTunnelReceiver(v1::TunnelService::Stub& stub,
                    const std::vector<std::string>& ids) {
    for (const std::string& id : ids) {
      readers_.push_back(std::make_unique<TunnelReader>(stub, id, arrivals_,
                                                        attached_, done_));
    }
    while (attached_.load() < ids.size()) {
      absl::SleepFor(absl::Milliseconds(10));
    }
  }
  void Send(size_t index, const std::string& payload) override {
    readers_[index]->Send(payload);
  }
  void Flush() override {}
  ~PerTunnelReceiver() override {
    for (auto& r : readers_) r->Cancel();
    while (done_.load() < readers_.size()) {
      absl::SleepFor(absl::Milliseconds(10));
    }
  }

 private:
  std::atomic<size_t> attached_{0};
  std::atomic<size_t> done_{0};
  std::vector<std::unique_ptr<TunnelReader>> readers_;
};

struct Direction {
  uint64_t sent = 0;
  uint64_t received = 0;
  double seconds = 0;
  double cpu_seconds = 0;
};

struct RunResult {
  Direction up;    // Clients to the API.
  Direction down;  // The API to the clients.
  long long stream_heap_bytes = 0;
};

// The API writes `count` payloads round-robin over the tunnels, at most
// kWindow ahead of what the clients have received.
Direction Down(Receiver& receiver, testing::MultiSourceSocket& socket,
               size_t tunnels, size_t count) {
  const std::string payload(kPayload, 0x6b);
  const size_t sealed = core::Peer::SealedSize(kPayload, core::Mode::kSnap);
  Direction d;
  const double cpu = CpuSeconds();
  const absl::Time start = absl::Now();
  absl::Time progress = start;
  while (d.received < count && absl::Now() - progress < absl::Seconds(2)) {
    while (d.sent < count && d.sent - d.received < kWindow) {
      receiver.Send(d.sent % tunnels, payload);
      ++d.sent;
      if (d.sent % 256 == 0) receiver.Flush();
    }
    receiver.Flush();
    pollfd p{socket.fd(), POLLIN, 0};
    poll(&p, 1, 100);
    size_t index = 0;
    absl::Span<uint8_t> datagram;
    while (socket.ReceiveOne(index, datagram)) {
      if (datagram.size() != sealed) continue;  // Keepalives and the like.
      ++d.received;
      progress = absl::Now();
    }
  }
  d.seconds = absl::ToDoubleSeconds(progress - start);
  d.cpu_seconds = CpuSeconds() - cpu;
  return d;
}

std::unique_ptr<service::Daemon> StartGateway() {
  service::DaemonConfig config;
  testing::UseLoopbackGateway(
      config, absl::StrCat("/tmp/gateway_mux_bench-", getpid(), ".key"));
  absl::StatusOr<std::unique_ptr<service::Daemon>> daemon =
      service::Daemon::Start(config);
  if (!daemon.ok()) {
    std::fprintf(stderr, "daemon: %s\n", daemon.status().ToString().c_str());
    std::exit(1);
  }
  unlink(config.private_key_file.c_str());
  return std::move(*daemon);
}

// Gateway tunnel ids by client index.
std::vector<std::string> TunnelIds(
    v1::TunnelService::Stub& stub,
    const std::map<std::string, size_t>& index_of) {
  std::vector<std::string> ids(index_of.size());
  v1::ListTunnelsRequest request;
  request.set_page_size(1000);
  for (;;) {
    v1::ListTunnelsResponse response;
    grpc::ClientContext context;
    if (!stub.ListTunnels(&context, request, &response).ok()) break;
    for (const v1::Tunnel& t : response.tunnels()) {
      auto it = index_of.find(t.remote_address());
      if (it != index_of.end()) ids[it->second] = t.tunnel_id();
    }
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  return ids;
}

// Datagrams sealed ahead, round-robin over the clients.
std::vector<std::pair<size_t, std::vector<uint8_t>>> Seal(
    std::vector<testing::LoadClient>& clients, size_t count) {
  std::vector<std::pair<size_t, std::vector<uint8_t>>> out(count);
  const std::vector<uint8_t> payload(kPayload, 0x5a);
  core::PeerOutput ignored;
  for (size_t n = 0; n < count; ++n) {
    const size_t i = n % clients.size();
    std::vector<uint8_t> datagram(
        core::Peer::SealedSize(kPayload, core::Mode::kSnap));
    const core::SendResult r = clients[i].peer->Send(
        absl::Now(), payload, absl::MakeSpan(datagram), ignored);
    datagram.resize(r.size);
    out[n] = {i, std::move(datagram)};
  }
  return out;
}

RunResult Run(size_t tunnels, bool mux) {
  std::unique_ptr<service::Daemon> daemon = StartGateway();
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", daemon->grpc_port()),
                          grpc::InsecureChannelCredentials());
  auto gateway_stub = v1::GatewayService::NewStub(channel);
  auto tunnel_stub = v1::TunnelService::NewStub(channel);
  crypto::SystemRandom rng;
  std::vector<testing::LoadClient> clients =
      testing::MakeLoadClients(tunnels, daemon->public_key(), rng);
  for (const testing::LoadClient& c : clients) {
    v1::AuthorizeIdentityRequest request;
    request.set_public_key(std::string(
        reinterpret_cast<const char*>(c.identity->public_key().data()), 32));
    v1::AuthorizeIdentityResponse response;
    grpc::ClientContext context;
    gateway_stub->AuthorizeIdentity(&context, request, &response);
  }
  testing::MultiSourceSocket socket;
  const core::Endpoint gateway = *daemon->gateway_address();
  size_t answered = 0;
  testing::RunLoadHandshakes(clients, gateway, true, answered, &socket);
  std::map<std::string, size_t> index_of;
  for (size_t i = 0; i < tunnels; ++i) {
    index_of[socket.EndpointOf(i).ToString()] = i;
  }
  const std::vector<std::string> ids = TunnelIds(*tunnel_stub, index_of);
  RunResult result;
  const size_t before = mallinfo2().uordblks;
  std::unique_ptr<Receiver> receiver;
  if (mux) {
    receiver = std::make_unique<MuxReceiver>(*gateway_stub, index_of);
  } else {
    receiver = std::make_unique<PerTunnelReceiver>(*tunnel_stub, ids);
  }
  absl::SleepFor(absl::Milliseconds(300));  // Attached and settled.
  result.stream_heap_bytes =
      static_cast<long long>(mallinfo2().uordblks) - before;
  auto sealed = Seal(clients, std::max<size_t>(200000, tunnels * 8));
  const double cpu = CpuSeconds();
  const absl::Time start = absl::Now();
  absl::Time progress = start;
  size_t next = 0;
  uint64_t received = 0;
  while (received < sealed.size()) {
    while (next < sealed.size() && next - received < kWindow) {
      socket.Send(sealed[next].first, gateway, sealed[next].second);
      ++next;
    }
    // Half a window of room before sending again; at the end, any
    // progress. Two seconds without it: the rest was lost.
    const uint64_t target =
        next == sealed.size()
            ? received
            : std::max<uint64_t>(received, next - std::min(next, kWindow / 2));
    const uint64_t now =
        receiver->arrivals().WaitBeyond(target, absl::Seconds(2));
    if (now <= target) break;
    received = now;
    progress = absl::Now();
  }
  result.up.seconds = absl::ToDoubleSeconds(progress - start);
  result.up.cpu_seconds = CpuSeconds() - cpu;
  result.up.sent = next;
  result.up.received = receiver->arrivals().count();
  result.down = Down(*receiver, socket, tunnels, sealed.size());
  receiver.reset();
  daemon->Drain();
  return result;
}

}  // namespace
}  // namespace snaptun

int main(int argc, char** argv) {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::vector<size_t> counts;
  for (int i = 1; i < argc; ++i) counts.push_back(std::stoul(argv[i]));
  if (counts.empty()) counts = {1, 100, 10000};
  std::printf("%-8s %-11s %-5s %10s %10s %12s %12s %16s\n", "tunnels",
              "streams", "way", "sent", "arrived", "packets/s", "CPU us/pkt",
              "stream heap B");
  for (size_t tunnels : counts) {
    for (bool mux : {true, false}) {
      const snaptun::RunResult r = snaptun::Run(tunnels, mux);
      for (const auto* d : {&r.up, &r.down}) {
        std::printf("%-8zu %-11s %-5s %10llu %10llu %12.0f %12.2f %16lld\n",
                    tunnels, mux ? "1 mux" : "per tunnel",
                    d == &r.up ? "up" : "down",
                    static_cast<unsigned long long>(d->sent),
                    static_cast<unsigned long long>(d->received),
                    d->received / std::max(d->seconds, 1e-9),
                    1e6 * d->cpu_seconds / std::max<uint64_t>(d->received, 1),
                    r.stream_heap_bytes);
      }
      std::fflush(stdout);
    }
  }
  return 0;
}
