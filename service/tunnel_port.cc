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
  std::function<void()> ready;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    if (inbound_.size() >= receive_capacity_) {
      counters_.Drop(core::DropReason::kReceiveQueueFull);
      return;
    }
    inbound_.emplace_back(payload.begin(), payload.end());
    if (inbound_.size() == 1) ready = receive_ready_;
  }
  counters_.rx_packets.fetch_add(1, std::memory_order_relaxed);
  counters_.rx_bytes.fetch_add(payload.size(), std::memory_order_relaxed);
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
