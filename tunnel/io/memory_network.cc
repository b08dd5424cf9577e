// Channels, routing and queues of the in-memory network.
#include "tunnel/io/memory_network.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace snaptun::io {
namespace {

constexpr uint16_t kFirstEphemeralPort = 32768;
constexpr uint16_t kLastEphemeralPort = 60999;

core::Endpoint WithPort(const core::Endpoint& e, uint16_t port) {
  return e.is_ipv4() ? core::Endpoint::Ipv4({e.address()[12], e.address()[13],
                                             e.address()[14], e.address()[15]},
                                            port)
                     : core::Endpoint::Ipv6(e.address(), port);
}

core::Endpoint Wildcard(const core::Endpoint& e) {
  return e.is_ipv4() ? core::Endpoint::Ipv4({0, 0, 0, 0}, e.port())
                     : core::Endpoint::Ipv6({}, e.port());
}

bool IsWildcard(const core::Endpoint& e) { return e == Wildcard(e); }

// Stable from run to run (absl::Hash is seeded per process), so a test sees
// the same source land on the same reuse_port channel every time.
size_t SpreadOf(const core::Endpoint& from) {
  size_t h = from.port();
  for (uint8_t byte : from.address()) h = h * 131 + byte;
  return h;
}

core::Endpoint LoopbackFor(const core::Endpoint& remote) {
  std::array<uint8_t, 16> v6{};
  v6[15] = 1;
  return remote.is_ipv4() ? core::Endpoint::Ipv4({127, 0, 0, 1}, 0)
                          : core::Endpoint::Ipv6(v6, 0);
}

}  // namespace

namespace memory_internal {

struct Datagram {
  core::Endpoint from;
  std::vector<uint8_t> bytes;
};

// One channel's receive side.
struct Inbox {
  core::Endpoint local;
  std::optional<core::Endpoint> remote;  // Connected channels only.
  bool reuse_port = false;
  size_t budget = 0;
  size_t send_budget = 0;
  int event_fd = -1;
  std::deque<Datagram> waiting;
  size_t bytes = 0;
  uint32_t overflow = 0;
};

struct State {
  mutable absl::Mutex mu;
  uint64_t next_id ABSL_GUARDED_BY(mu) = 1;
  uint16_t next_port ABSL_GUARDED_BY(mu) = kFirstEphemeralPort;
  absl::flat_hash_map<uint64_t, Inbox> inboxes ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<core::Endpoint, std::vector<uint64_t>> bound
      ABSL_GUARDED_BY(mu);
  MemoryNetwork::Filter filter ABSL_GUARDED_BY(mu);
  MemoryNetwork::Counts counts ABSL_GUARDED_BY(mu);

  // The inbox a datagram from `from` to `to` lands in: a channel connected
  // to `from` first, else one bound there (spread by `from`), else one
  // bound to the wildcard address.
  Inbox* Route(const core::Endpoint& from, const core::Endpoint& to)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void Send(const core::Endpoint& from, const core::Endpoint& to,
            absl::Span<const uint8_t> datagram) ABSL_LOCKS_EXCLUDED(mu);
  bool PortFree(const core::Endpoint& local) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Whether binding `local` collides with a bound channel: the same
  // address, or either one the wildcard, unless all use reuse_port.
  bool Conflicts(const core::Endpoint& local, bool reuse_port)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  absl::StatusOr<uint64_t> Open(core::Endpoint local,
                                std::optional<core::Endpoint> remote,
                                const UdpSocketOptions& options)
      ABSL_LOCKS_EXCLUDED(mu);
  void Close(uint64_t id) ABSL_LOCKS_EXCLUDED(mu);
};

Inbox* State::Route(const core::Endpoint& from, const core::Endpoint& to) {
  for (const core::Endpoint& at : {to, Wildcard(to)}) {
    auto it = bound.find(at);
    if (it == bound.end()) continue;
    std::vector<Inbox*> listening;
    for (uint64_t id : it->second) {
      Inbox& inbox = inboxes.at(id);
      if (inbox.remote == from) return &inbox;
      if (!inbox.remote.has_value()) listening.push_back(&inbox);
    }
    if (!listening.empty()) {
      return listening[SpreadOf(from) % listening.size()];
    }
  }
  return nullptr;
}

void State::Send(const core::Endpoint& from, const core::Endpoint& to,
                 absl::Span<const uint8_t> datagram) {
  absl::MutexLock lock(&mu);
  if (filter && !filter(from, to, datagram)) {
    ++counts.filtered;
    return;
  }
  Inbox* inbox = Route(from, to);
  if (inbox == nullptr) {
    ++counts.unreachable;
    return;
  }
  // As the kernel does, a queue takes a datagram while it is under its
  // budget, so one datagram larger than the budget still fits an empty one.
  if (inbox->bytes >= inbox->budget) {
    ++counts.overflow;
    ++inbox->overflow;
    return;
  }
  ++counts.queued;
  inbox->waiting.push_back(
      {from, std::vector<uint8_t>(datagram.begin(), datagram.end())});
  inbox->bytes += datagram.size();
  if (inbox->waiting.size() == 1) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(inbox->event_fd, &one, sizeof(one));
  }
}

bool State::PortFree(const core::Endpoint& local) {
  for (const auto& [at, ids] : bound) {
    if (at.port() == local.port() && at.is_ipv4() == local.is_ipv4()) {
      return false;
    }
  }
  return true;
}

bool State::Conflicts(const core::Endpoint& local, bool reuse_port) {
  for (const auto& [at, ids] : bound) {
    if (at.port() != local.port() || at.is_ipv4() != local.is_ipv4()) continue;
    if (at != local && !IsWildcard(at) && !IsWildcard(local)) continue;
    for (uint64_t id : ids) {
      if (!reuse_port || !inboxes.at(id).reuse_port) return true;
    }
  }
  return false;
}

absl::StatusOr<uint64_t> State::Open(core::Endpoint local,
                                     std::optional<core::Endpoint> remote,
                                     const UdpSocketOptions& options) {
  absl::MutexLock lock(&mu);
  if (local.port() == 0) {
    // The next free port after the last one given out, so a port just
    // closed is not handed out again at once (nor is it by the kernel).
    const int range = kLastEphemeralPort - kFirstEphemeralPort + 1;
    int tried = 0;
    for (; tried < range; ++tried) {
      const uint16_t port = next_port;
      next_port = port == kLastEphemeralPort ? kFirstEphemeralPort : port + 1;
      if (PortFree(WithPort(local, port))) {
        local = WithPort(local, port);
        break;
      }
    }
    if (tried == range) return absl::ErrnoToStatus(EAGAIN, "bind");
  }
  if (Conflicts(local, options.reuse_port)) {
    return absl::ErrnoToStatus(EADDRINUSE, "bind");
  }
  const int event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd < 0) return absl::ErrnoToStatus(errno, "eventfd");
  const uint64_t id = next_id++;
  Inbox& inbox = inboxes[id];
  inbox.local = local;
  inbox.remote = remote;
  inbox.reuse_port = options.reuse_port;
  inbox.budget = static_cast<size_t>(options.receive_buffer_bytes);
  inbox.send_budget = static_cast<size_t>(options.send_buffer_bytes);
  inbox.event_fd = event_fd;
  bound[local].push_back(id);
  return id;
}

void State::Close(uint64_t id) {
  absl::MutexLock lock(&mu);
  auto it = inboxes.find(id);
  if (it == inboxes.end()) return;
  std::vector<uint64_t>& sharing = bound[it->second.local];
  sharing.erase(std::find(sharing.begin(), sharing.end(), id));
  if (sharing.empty()) bound.erase(it->second.local);
  close(it->second.event_fd);
  inboxes.erase(it);
}

}  // namespace memory_internal

namespace {

using memory_internal::Datagram;
using memory_internal::Inbox;
using memory_internal::State;

class MemoryChannel final : public DatagramChannel {
 public:
  MemoryChannel(std::shared_ptr<State> state, uint64_t id)
      : state_(std::move(state)), id_(id) {
    absl::MutexLock lock(&state_->mu);
    const Inbox& inbox = state_->inboxes.at(id_);
    event_fd_ = inbox.event_fd;
    local_ = inbox.local;
    remote_ = inbox.remote;
    budget_ = static_cast<int>(inbox.budget);
    send_budget_ = static_cast<int>(inbox.send_budget);
    // Every channel is on one host: one bound to the wildcard address
    // sends from the loopback address, as the kernel would pick it.
    source_ = local_ == Wildcard(local_)
                  ? WithPort(LoopbackFor(local_), local_.port())
                  : local_;
  }
  ~MemoryChannel() override { state_->Close(id_); }

  int readiness_fd() const override { return event_fd_; }
  absl::StatusOr<ReceiveStats> Receive(
      BatchReceiver&, const BatchReceiver::Handler& handler) override;
  int error() const override { return 0; }
  FlushStats Flush(BatchSender& sender) override {
    return sender.FlushEach(
        [this](const core::Endpoint& to, absl::Span<const uint8_t> bytes) {
          state_->Send(source_, remote_.value_or(to), bytes);
          return 0;
        });
  }
  std::optional<uint32_t> KernelDrops() const override {
    absl::MutexLock lock(&state_->mu);
    return state_->inboxes.at(id_).overflow;
  }
  absl::StatusOr<core::Endpoint> LocalEndpoint() const override {
    return local_;
  }
  int receive_buffer_bytes() const override { return budget_; }
  int send_buffer_bytes() const override { return send_budget_; }

 private:
  // Moves up to `batch` datagrams out of the queue; the last one out resets
  // the readiness fd. Returns the queue's overflow count now (the kernel's
  // would be as of the newest datagram: drops may be seen a round early).
  uint32_t Take(size_t batch);

  const std::shared_ptr<State> state_;
  const uint64_t id_;
  int event_fd_ = -1;
  core::Endpoint local_;
  core::Endpoint source_;  // Where its datagrams come from.
  std::optional<core::Endpoint> remote_;
  int budget_ = 0;
  int send_budget_ = 0;
  std::vector<Datagram> round_;  // The last Receive's datagrams.
};

uint32_t MemoryChannel::Take(size_t batch) {
  round_.clear();
  absl::MutexLock lock(&state_->mu);
  Inbox& inbox = state_->inboxes.at(id_);
  while (!inbox.waiting.empty() && round_.size() < batch) {
    inbox.bytes -= inbox.waiting.front().bytes.size();
    round_.push_back(std::move(inbox.waiting.front()));
    inbox.waiting.pop_front();
  }
  if (inbox.waiting.empty()) {
    uint64_t count = 0;
    [[maybe_unused]] ssize_t n = read(event_fd_, &count, sizeof(count));
  }
  return inbox.overflow;
}

absl::StatusOr<ReceiveStats> MemoryChannel::Receive(
    BatchReceiver& receiver, const BatchReceiver::Handler& handler) {
  const uint32_t overflow = Take(receiver.slots());
  ReceiveStats stats;
  for (Datagram& datagram : round_) {
    if (datagram.bytes.empty()) {
      ++stats.empty;
      continue;
    }
    ++stats.datagrams;
    ++stats.reads;
    handler(absl::MakeSpan(datagram.bytes), datagram.from);
  }
  if (!round_.empty()) stats.kernel_drops = overflow;
  return stats;
}

}  // namespace

MemoryNetwork::MemoryNetwork()
    : state_(std::make_shared<memory_internal::State>()) {}

MemoryNetwork::~MemoryNetwork() = default;

absl::StatusOr<std::unique_ptr<DatagramChannel>> MemoryNetwork::Bind(
    const core::Endpoint& local, const UdpSocketOptions& options) {
  absl::StatusOr<uint64_t> id = state_->Open(local, std::nullopt, options);
  if (!id.ok()) return id.status();
  return std::make_unique<MemoryChannel>(state_, *id);
}

absl::StatusOr<std::unique_ptr<DatagramChannel>> MemoryNetwork::Connect(
    const core::Endpoint& remote, const UdpSocketOptions& options) {
  UdpSocketOptions own = options;
  own.reuse_port = false;
  absl::StatusOr<uint64_t> id = state_->Open(LoopbackFor(remote), remote, own);
  if (!id.ok()) return id.status();
  return std::make_unique<MemoryChannel>(state_, *id);
}

void MemoryNetwork::SetFilter(Filter filter) {
  absl::MutexLock lock(&state_->mu);
  state_->filter = std::move(filter);
}

MemoryNetwork::Counts MemoryNetwork::counts() const {
  absl::MutexLock lock(&state_->mu);
  return state_->counts;
}

}  // namespace snaptun::io
