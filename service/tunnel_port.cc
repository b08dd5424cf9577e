// Bounded queues (packets and bytes, per port and shared) with burst
// wake-ups.
#include "service/tunnel_port.h"

#include <algorithm>
#include <memory>
#include <utility>

namespace snaptun::service {

TunnelCounters::Cells& TunnelCounters::DropCells() {
  Cells* cells = drops_.load(std::memory_order_acquire);
  if (cells != nullptr) return *cells;
  auto fresh = std::make_unique<Cells>();  // Value-initialized: zeros.
  if (drops_.compare_exchange_strong(cells, fresh.get(),
                                     std::memory_order_acq_rel)) {
    return *fresh.release();
  }
  return *cells;  // Another thread allocated them first.
}

void CountersSnapshot::Add(const CountersSnapshot& other) {
  tx_packets += other.tx_packets;
  tx_bytes += other.tx_bytes;
  rx_packets += other.rx_packets;
  rx_bytes += other.rx_bytes;
  handshakes += other.handshakes;
  reconnects += other.reconnects;
  for (size_t i = 0; i < drops.size(); ++i) drops[i] += other.drops[i];
}

void TunnelCounters::AddTo(CountersSnapshot& total) const {
  total.tx_packets += tx_packets.load(std::memory_order_relaxed);
  total.tx_bytes += tx_bytes.load(std::memory_order_relaxed);
  total.rx_packets += rx_packets.load(std::memory_order_relaxed);
  total.rx_bytes += rx_bytes.load(std::memory_order_relaxed);
  total.handshakes += handshakes.load(std::memory_order_relaxed);
  total.reconnects += reconnects.load(std::memory_order_relaxed);
  const Cells* cells = drops_.load(std::memory_order_acquire);
  if (cells == nullptr) return;
  for (size_t i = 0; i < total.drops.size(); ++i) {
    total.drops[i] += (*cells)[i].load(std::memory_order_relaxed);
  }
}

namespace {

PortLimits Sanitized(PortLimits limits) {
  limits.receive_packets = std::max<size_t>(limits.receive_packets, 1);
  limits.send_packets = std::max<size_t>(limits.send_packets, 1);
  limits.receive_bytes =
      std::max(limits.receive_bytes, TunnelPort::kMinQueueBytes);
  limits.send_bytes = std::max(limits.send_bytes, TunnelPort::kMinQueueBytes);
  return limits;
}

PortLimits PacketLimits(size_t receive_capacity, size_t send_capacity) {
  PortLimits limits;
  limits.receive_packets = receive_capacity;
  limits.send_packets = send_capacity;
  return limits;
}

}  // namespace

std::shared_ptr<const PortContext> PortContext::Make(
    const PortLimits& limits,
    std::function<void(const core::Endpoint&)> send_wake) {
  return std::make_shared<const PortContext>(
      PortContext{Sanitized(limits), std::move(send_wake)});
}

TunnelPort::TunnelPort(std::shared_ptr<const PortContext> context,
                       const core::Endpoint& remote)
    : context_(std::move(context)), remote_(remote) {}

TunnelPort::TunnelPort(const PortLimits& limits)
    : TunnelPort(PortContext::Make(limits), core::Endpoint()) {}

TunnelPort::TunnelPort(size_t receive_capacity, size_t send_capacity)
    : TunnelPort(PacketLimits(receive_capacity, send_capacity)) {}

TunnelPort::~TunnelPort() {
  absl::MutexLock lock(&mu_);
  Release(inbound_held_ + outbound_held_);
}

bool TunnelPort::Admit(size_t count, size_t held, size_t cost,
                       size_t max_packets, size_t max_bytes) {
  if (count >= max_packets || held + cost > max_bytes) return false;
  return limits().budget == nullptr || limits().budget->TryTake(cost);
}

void TunnelPort::Release(size_t cost) {
  if (limits().budget != nullptr && cost > 0) limits().budget->Give(cost);
}

bool TunnelPort::AdmitOutbound(size_t size) {
  const size_t cost = Cost(size);
  if (!Admit(outbound_.size(), outbound_held_, cost, limits().send_packets,
             limits().send_bytes)) {
    return false;
  }
  outbound_held_ += cost;
  return true;
}

bool TunnelPort::WakeIfIdle() {
  if (wake_pending_ || !context_->send_wake) return false;
  wake_pending_ = true;
  return true;
}

void TunnelPort::Wake() const { context_->send_wake(remote_); }

TunnelPort::SendStatus TunnelPort::Send(Packet payload) {
  bool wake = false;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return SendStatus::kClosed;
    if (!AdmitOutbound(payload.size())) return SendStatus::kFull;
    outbound_.push_back(std::move(payload));
    wake = WakeIfIdle();
  }
  if (wake) Wake();
  return SendStatus::kAccepted;
}

size_t TunnelPort::SendBatch(std::vector<Packet>& payloads) {
  bool wake = false;
  size_t accepted = 0;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return 0;
    while (accepted < payloads.size() &&
           AdmitOutbound(payloads[accepted].size())) {
      outbound_.push_back(std::move(payloads[accepted++]));
    }
    if (accepted > 0) wake = WakeIfIdle();
  }
  payloads.erase(payloads.begin(), payloads.begin() + accepted);
  if (wake) Wake();
  return accepted;
}

size_t TunnelPort::SendCopies(
    absl::Span<const absl::Span<const uint8_t>> payloads) {
  bool wake = false;
  size_t accepted = 0;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return 0;
    // Room is checked before each copy is made.
    while (accepted < payloads.size() &&
           AdmitOutbound(payloads[accepted].size())) {
      outbound_.push_back(
          Packet(payloads[accepted].begin(), payloads[accepted].end()));
      ++accepted;
    }
    if (accepted > 0) wake = WakeIfIdle();
  }
  if (wake) Wake();
  return accepted;
}

size_t TunnelPort::Receive(std::vector<Packet>& out, size_t max,
                           absl::Duration timeout, size_t max_bytes) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return !inbound_.empty() || closed_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  size_t taken = 0;
  size_t freed = 0;
  size_t bytes = 0;
  while (taken < max && !inbound_.empty()) {
    const size_t size = inbound_.front().size();
    if (taken > 0 && bytes + size > max_bytes) break;
    bytes += size;
    freed += Cost(size);
    out.push_back(std::move(inbound_.front()));
    inbound_.pop_front();
    ++taken;
  }
  inbound_held_ -= freed;
  Release(freed);
  return taken;
}

void TunnelPort::SetReceiveReady(std::function<void()> ready) {
  absl::MutexLock lock(&mu_);
  receive_ready_ =
      ready ? std::make_unique<std::function<void()>>(std::move(ready))
            : nullptr;
}

bool TunnelPort::CountDrop(core::DropReason reason, uint64_t count) {
  // Under the lock, so the owner's read after Close sees every drop
  // counted while the port was open.
  absl::MutexLock lock(&mu_);
  if (closed_) return false;
  counters_.Drop(reason, count);
  return true;
}

bool TunnelPort::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

size_t TunnelPort::receive_queued() const {
  absl::MutexLock lock(&mu_);
  return inbound_.size();
}

size_t TunnelPort::receive_bytes_held() const {
  absl::MutexLock lock(&mu_);
  return inbound_held_;
}

size_t TunnelPort::send_bytes_held() const {
  absl::MutexLock lock(&mu_);
  return outbound_held_;
}

void TunnelPort::Deliver(absl::Span<const uint8_t> payload) {
  DeliverBatch(absl::MakeConstSpan(&payload, 1));
}

void TunnelPort::DeliverBatch(
    absl::Span<const absl::Span<const uint8_t>> payloads) {
  std::function<void()> ready;
  size_t delivered = 0;
  uint64_t bytes = 0;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) {
      // Closed by the API before its owner removed it: the tunnel is gone
      // for these, and the owner has not taken the port's counts yet.
      counters_.Drop(core::DropReason::kNoTunnel, payloads.size());
      return;
    }
    const bool was_empty = inbound_.empty();
    // Room is checked before anything is copied, so a flood costs no more
    // memory than the queue may hold.
    for (absl::Span<const uint8_t> p : payloads) {
      const size_t cost = Cost(p.size());
      if (!Admit(inbound_.size(), inbound_held_, cost, limits().receive_packets,
                 limits().receive_bytes)) {
        break;
      }
      inbound_held_ += cost;
      bytes += p.size();
      inbound_.push_back(Packet(p.begin(), p.end()));
      ++delivered;
    }
    if (was_empty && delivered > 0 && receive_ready_ != nullptr) {
      ready = *receive_ready_;
    }
    // Counted before the payloads can be seen, so a reader never finds a
    // payload its counters do not include.
    if (delivered < payloads.size()) {
      counters_.Drop(core::DropReason::kReceiveQueueFull,
                     payloads.size() - delivered);
    }
    counters_.rx_packets.fetch_add(delivered, std::memory_order_relaxed);
    counters_.rx_bytes.fetch_add(bytes, std::memory_order_relaxed);
  }
  if (ready) ready();
}

size_t TunnelPort::TakeOutbound(std::vector<Packet>& out, size_t max) {
  absl::MutexLock lock(&mu_);
  size_t taken = 0;
  size_t freed = 0;
  while (taken < max && !outbound_.empty()) {
    freed += Cost(outbound_.front().size());
    out.push_back(std::move(outbound_.front()));
    outbound_.pop_front();
    ++taken;
  }
  outbound_held_ -= freed;
  Release(freed);
  if (outbound_.empty()) wake_pending_ = false;
  return taken;
}

void TunnelPort::Close() {
  std::function<void()> ready;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    outbound_.clear();
    Release(outbound_held_);
    outbound_held_ = 0;
    if (receive_ready_ != nullptr) ready = std::move(*receive_ready_);
    receive_ready_ = nullptr;
  }
  if (ready) ready();
}

}  // namespace snaptun::service
