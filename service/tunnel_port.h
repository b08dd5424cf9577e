// The user-facing end of one tunnel, shared between the worker that owns the
// tunnel and whoever carries its packets (a gRPC stream, a test, the bench).
// Both directions are bounded queues: a payload that arrives while the
// receive queue is full is dropped and counted (`receive_queue_full`), and a
// full send queue refuses the payload so the caller can push back. The
// worker learns of new outbound payloads through one wake-up per burst, not
// one per packet. Counters are atomics the worker bumps and readers sample.
#ifndef SNAPTUN_SERVICE_TUNNEL_PORT_H_
#define SNAPTUN_SERVICE_TUNNEL_PORT_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "tunnel/core/fifo.h"
#include "tunnel/core/verdict.h"

namespace snaptun::service {

using Packet = std::vector<uint8_t>;

struct TunnelCounters {
  std::atomic<uint64_t> tx_packets{0};
  std::atomic<uint64_t> tx_bytes{0};
  std::atomic<uint64_t> rx_packets{0};
  std::atomic<uint64_t> rx_bytes{0};
  std::atomic<uint64_t> handshakes{0};
  std::atomic<uint64_t> reconnects{0};
  std::array<std::atomic<uint64_t>, core::kDropReasonCount> drops{};

  void Drop(core::DropReason reason, uint64_t count = 1) {
    drops[static_cast<size_t>(reason)].fetch_add(count,
                                                 std::memory_order_relaxed);
  }
  uint64_t dropped(core::DropReason reason) const {
    return drops[static_cast<size_t>(reason)].load(std::memory_order_relaxed);
  }
};

class TunnelPort {
 public:
  enum class SendStatus : uint8_t { kAccepted, kFull, kClosed };

  TunnelPort(size_t receive_capacity, size_t send_capacity);
  TunnelPort(const TunnelPort&) = delete;
  TunnelPort& operator=(const TunnelPort&) = delete;

  // --- The carrier's side (any thread) ---
  SendStatus Send(Packet payload);
  // Moves as many of `payloads` (from the front) as fit; returns how many.
  // The worker is woken at most once.
  size_t SendBatch(std::vector<Packet>& payloads);
  // Waits up to `timeout` for a payload, then moves up to `max` into `out`.
  // Returns how many; zero on timeout or once closed and drained.
  size_t Receive(std::vector<Packet>& out, size_t max, absl::Duration timeout);
  // Called on the worker thread whenever the receive queue goes from empty
  // to non-empty, and once on close. Replaces any previous callback.
  void SetReceiveReady(std::function<void()> ready);
  bool closed() const;
  size_t receive_queued() const;
  TunnelCounters& counters() { return counters_; }
  const TunnelCounters& counters() const { return counters_; }

  // --- The worker's side ---
  // Installed once by the owner: schedules a drain of the send queue.
  void SetSendWake(std::function<void()> wake);
  // Installed once by the owner, before the port is shared: told of every
  // drop the port itself makes (receive queue full), for metrics.
  void SetDropObserver(
      std::function<void(core::DropReason, uint64_t)> observer) {
    drop_observer_ = std::move(observer);
  }
  void Deliver(absl::Span<const uint8_t> payload);
  // Delivers a batch under one lock and with at most one wake-up.
  void DeliverBatch(absl::Span<const absl::Span<const uint8_t>> payloads);
  // Moves up to `max` payloads out of the send queue. When it leaves the
  // queue empty, the next Send wakes the worker again.
  size_t TakeOutbound(std::vector<Packet>& out, size_t max);
  void Close();

 private:
  const size_t receive_capacity_;
  const size_t send_capacity_;
  TunnelCounters counters_;
  std::function<void(core::DropReason, uint64_t)> drop_observer_;
  mutable absl::Mutex mu_;
  core::Fifo<Packet> inbound_ ABSL_GUARDED_BY(mu_);
  core::Fifo<Packet> outbound_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_pending_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> send_wake_ ABSL_GUARDED_BY(mu_);
  std::function<void()> receive_ready_ ABSL_GUARDED_BY(mu_);
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_TUNNEL_PORT_H_
