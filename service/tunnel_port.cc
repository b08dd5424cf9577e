// Bounded queues in both directions with burst wake-ups.
#include "service/tunnel_port.h"

#include <utility>

namespace snaptun::service {

TunnelPort::TunnelPort(size_t receive_capacity, size_t send_capacity)
    : receive_capacity_(receive_capacity == 0 ? 1 : receive_capacity),
      send_capacity_(send_capacity == 0 ? 1 : send_capacity) {}

TunnelPort::SendStatus TunnelPort::Send(Packet payload) {
  std::function<void()> wake;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return SendStatus::kClosed;
    if (outbound_.size() >= send_capacity_) return SendStatus::kFull;
    outbound_.push_back(std::move(payload));
    if (!wake_pending_ && send_wake_) {
      wake_pending_ = true;
      wake = send_wake_;
    }
  }
  if (wake) wake();
  return SendStatus::kAccepted;
}

size_t TunnelPort::SendBatch(std::vector<Packet>& payloads) {
  std::function<void()> wake;
  size_t accepted = 0;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return 0;
    while (accepted < payloads.size() && outbound_.size() < send_capacity_) {
      outbound_.push_back(std::move(payloads[accepted++]));
    }
    if (accepted > 0 && !wake_pending_ && send_wake_) {
      wake_pending_ = true;
      wake = send_wake_;
    }
  }
  payloads.erase(payloads.begin(), payloads.begin() + accepted);
  if (wake) wake();
  return accepted;
}

size_t TunnelPort::Receive(std::vector<Packet>& out, size_t max,
                           absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return !inbound_.empty() || closed_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  size_t taken = 0;
  while (taken < max && !inbound_.empty()) {
    out.push_back(std::move(inbound_.front()));
    inbound_.pop_front();
    ++taken;
  }
  return taken;
}

void TunnelPort::SetReceiveReady(std::function<void()> ready) {
  absl::MutexLock lock(&mu_);
  receive_ready_ = std::move(ready);
}

bool TunnelPort::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

size_t TunnelPort::receive_queued() const {
  absl::MutexLock lock(&mu_);
  return inbound_.size();
}

void TunnelPort::SetSendWake(std::function<void()> wake) {
  absl::MutexLock lock(&mu_);
  send_wake_ = std::move(wake);
}

void TunnelPort::Deliver(absl::Span<const uint8_t> payload) {
  DeliverBatch(absl::MakeConstSpan(&payload, 1));
}

void TunnelPort::DeliverBatch(
    absl::Span<const absl::Span<const uint8_t>> payloads) {
  // Copies are made before taking the lock, so the carrier is not held up.
  std::vector<Packet> copies;
  copies.reserve(payloads.size());
  for (absl::Span<const uint8_t> p : payloads)
    copies.emplace_back(p.begin(), p.end());
  std::function<void()> ready;
  size_t delivered = 0;
  uint64_t bytes = 0;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    const bool was_empty = inbound_.empty();
    for (Packet& copy : copies) {
      if (inbound_.size() >= receive_capacity_) break;
      bytes += copy.size();
      inbound_.push_back(std::move(copy));
      ++delivered;
    }
    if (was_empty && delivered > 0) ready = receive_ready_;
    // Counted before the payloads can be seen, so a reader never finds a
    // payload its counters do not include.
    if (delivered < copies.size()) {
      counters_.Drop(core::DropReason::kReceiveQueueFull,
                     copies.size() - delivered);
    }
    counters_.rx_packets.fetch_add(delivered, std::memory_order_relaxed);
    counters_.rx_bytes.fetch_add(bytes, std::memory_order_relaxed);
  }
  if (delivered < copies.size() && drop_observer_) {
    drop_observer_(core::DropReason::kReceiveQueueFull,
                   copies.size() - delivered);
  }
  if (ready) ready();
}

size_t TunnelPort::TakeOutbound(std::vector<Packet>& out, size_t max) {
  absl::MutexLock lock(&mu_);
  size_t taken = 0;
  while (taken < max && !outbound_.empty()) {
    out.push_back(std::move(outbound_.front()));
    outbound_.pop_front();
    ++taken;
  }
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
    send_wake_ = nullptr;
    ready = std::move(receive_ready_);
    receive_ready_ = nullptr;
  }
  if (ready) ready();
}

}  // namespace snaptun::service
