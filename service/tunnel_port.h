// The user-facing end of one tunnel, shared between the worker that owns the
// tunnel and whoever carries its packets (a gRPC stream, a test, the bench).
// Both directions are bounded queues, in packets and in bytes, per port and
// against a budget shared by all ports: a payload that arrives while the
// receive queue is full is dropped and counted (`receive_queue_full`), and a
// full send queue refuses the payload so the caller can push back. The
// worker learns of new outbound payloads through one wake-up per burst, not
// one per packet. Counters are atomics the worker bumps and readers sample.
#ifndef SNAPTUN_SERVICE_TUNNEL_PORT_H_
#define SNAPTUN_SERVICE_TUNNEL_PORT_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "service/byte_budget.h"
#include "tunnel/core/endpoint.h"
#include "tunnel/core/fifo.h"
#include "tunnel/core/verdict.h"

namespace snaptun::service {

using Packet = std::vector<uint8_t>;

// Counts as of one moment: one tunnel's (GetTunnel), or a role's, which is
// the sum of its tunnels' (role_traffic.h).
struct CountersSnapshot {
  uint64_t tx_packets = 0;
  uint64_t tx_bytes = 0;
  uint64_t rx_packets = 0;
  uint64_t rx_bytes = 0;
  uint64_t handshakes = 0;
  uint64_t reconnects = 0;
  std::array<uint64_t, core::kDropReasonCount> drops{};

  void Add(const CountersSnapshot& other);
  uint64_t dropped(core::DropReason reason) const {
    return drops[static_cast<size_t>(reason)];
  }
};

// A tunnel's own counts: the one count of what its packets did. The role's
// totals (metrics, Gateway::stats) are sums of these, not a second count.
// The worker that owns the tunnel counts here; a stream thread counts only
// its own refusals (TunnelPort::CountDrop). The drop cells (one per reason)
// are allocated by the first drop: most tunnels never drop anything, and an
// idle gateway tunnel should not carry a zero per drop reason.
class TunnelCounters {
 public:
  TunnelCounters() = default;
  ~TunnelCounters() { delete drops_.load(std::memory_order_relaxed); }
  TunnelCounters(const TunnelCounters&) = delete;
  TunnelCounters& operator=(const TunnelCounters&) = delete;

  std::atomic<uint64_t> tx_packets{0};
  std::atomic<uint64_t> tx_bytes{0};
  std::atomic<uint64_t> rx_packets{0};
  std::atomic<uint64_t> rx_bytes{0};
  std::atomic<uint64_t> handshakes{0};
  std::atomic<uint64_t> reconnects{0};

  // Payloads sealed and handed to the sender.
  void Sent(uint64_t packets, uint64_t bytes) {
    tx_packets.fetch_add(packets, std::memory_order_relaxed);
    tx_bytes.fetch_add(bytes, std::memory_order_relaxed);
  }
  void Drop(core::DropReason reason, uint64_t count = 1) {
    DropCells()[static_cast<size_t>(reason)].fetch_add(
        count, std::memory_order_relaxed);
  }
  uint64_t dropped(core::DropReason reason) const {
    const Cells* cells = drops_.load(std::memory_order_acquire);
    return cells == nullptr ? 0
                            : (*cells)[static_cast<size_t>(reason)].load(
                                  std::memory_order_relaxed);
  }
  // Adds these counts to `total`.
  void AddTo(CountersSnapshot& total) const;
  CountersSnapshot Snapshot() const {
    CountersSnapshot out;
    AddTo(out);
    return out;
  }

 private:
  using Cells = std::array<std::atomic<uint64_t>, core::kDropReasonCount>;
  // The cells, allocated by whichever thread drops first.
  Cells& DropCells();

  std::atomic<Cells*> drops_{nullptr};
};

// How much one port may hold, in packets and in bytes, each way. A payload
// is charged its size plus kPacketOverhead (the vector and the allocator's
// header), so a flood of tiny packets is bounded too. Byte limits below
// kMinQueueBytes are raised to it, so the largest payload always fits an
// empty queue.
struct PortLimits {
  size_t receive_packets = 1024;
  size_t receive_bytes = size_t{2} << 20;
  size_t send_packets = 1024;
  size_t send_bytes = size_t{2} << 20;
  // Shared by every port of the daemon; optional, outlives the port.
  ByteBudget* budget = nullptr;
};

// What every port of one owner (a gateway shard, a client tunnel) shares and
// never changes: the limits and the owner's wake. Ports hold it by pointer,
// so an idle port carries neither its own copy of the limits nor a callback
// of its own.
struct PortContext {
  // Limits raised to their floors (see PortLimits).
  static std::shared_ptr<const PortContext> Make(
      const PortLimits& limits,
      std::function<void(const core::Endpoint&)> send_wake = nullptr);

  PortLimits limits;
  // Any thread: the port for `remote` has payloads to send and no drain is
  // pending yet. Not called for a payload offered after the port closed
  // (one offered just before may still wake the owner just after).
  std::function<void(const core::Endpoint& remote)> send_wake;
};

class TunnelPort {
 public:
  enum class SendStatus : uint8_t { kAccepted, kFull, kClosed };

  static constexpr size_t kPacketOverhead = sizeof(Packet) + 16;
  static constexpr size_t kMinQueueBytes = 65535 + kPacketOverhead;
  // What a payload of `size` bytes is charged while queued.
  static size_t Cost(size_t size) { return size + kPacketOverhead; }

  // The port of the tunnel with `remote`, which its send wake names.
  TunnelPort(std::shared_ptr<const PortContext> context,
             const core::Endpoint& remote);
  // A port with a context of its own and no hooks (tests, tools).
  explicit TunnelPort(const PortLimits& limits);
  // Packet limits only, with the default byte limits and no shared budget.
  TunnelPort(size_t receive_capacity, size_t send_capacity);
  ~TunnelPort();
  TunnelPort(const TunnelPort&) = delete;
  TunnelPort& operator=(const TunnelPort&) = delete;

  // --- The carrier's side (any thread) ---
  SendStatus Send(Packet payload);
  // Moves as many of `payloads` (from the front) as fit; returns how many.
  // The worker is woken at most once.
  size_t SendBatch(std::vector<Packet>& payloads);
  // Copies as many of `payloads` (from the front) as fit into the send
  // queue; nothing is copied that does not fit. Returns how many.
  size_t SendCopies(absl::Span<const absl::Span<const uint8_t>> payloads);
  // Waits up to `timeout` for a payload, then moves up to `max` into `out`,
  // stopping before their sizes would add up to more than `max_bytes`
  // (though always taking one if any is queued). Returns how many; zero on
  // timeout or once closed and drained.
  size_t Receive(std::vector<Packet>& out, size_t max, absl::Duration timeout,
                 size_t max_bytes = SIZE_MAX);
  // Called on the worker thread whenever the receive queue goes from empty
  // to non-empty, and once on close. Replaces any previous callback.
  void SetReceiveReady(std::function<void()> ready);
  bool closed() const;
  size_t receive_queued() const;
  // Bytes held (as charged, see Cost) in each queue.
  size_t receive_bytes_held() const;
  size_t send_bytes_held() const;
  TunnelCounters& counters() { return counters_; }
  const TunnelCounters& counters() const { return counters_; }
  // A carrier's refusal (stream backpressure, oversize), counted on the
  // port while it is open. False once it closed: its owner has added its
  // counts to the role's by then, so the caller counts the drop for the
  // role instead (RoleMetrics::Drop).
  bool CountDrop(core::DropReason reason, uint64_t count);

  // --- The worker's side ---
  const core::Endpoint& remote() const { return remote_; }
  void Deliver(absl::Span<const uint8_t> payload);
  // Delivers a batch under one lock and with at most one wake-up. Only
  // what fits is copied; the rest is dropped as `receive_queue_full`, and
  // all of it as `no_tunnel` once the port is closed.
  void DeliverBatch(absl::Span<const absl::Span<const uint8_t>> payloads);
  // Moves up to `max` payloads out of the send queue. When it leaves the
  // queue empty, the next Send wakes the worker again.
  size_t TakeOutbound(std::vector<Packet>& out, size_t max);
  void Close();

 private:
  // True when a payload of `cost` fits the queue holding `held` bytes in
  // `count` packets, and the shared budget (taken here if so).
  bool Admit(size_t count, size_t held, size_t cost, size_t max_packets,
             size_t max_bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Release(size_t cost);
  // Charges a payload of `size` to the send queue if it fits.
  bool AdmitOutbound(size_t size) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // True when the owner must be woken: there is a wake and no drain is
  // pending yet. The caller wakes it (Wake) after unlocking.
  bool WakeIfIdle() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Wake() const;
  const PortLimits& limits() const { return context_->limits; }

  // Fields are ordered for size: an idle gateway tunnel holds one port.
  const std::shared_ptr<const PortContext> context_;
  TunnelCounters counters_;
  mutable absl::Mutex mu_;
  core::Fifo<Packet> inbound_ ABSL_GUARDED_BY(mu_);
  core::Fifo<Packet> outbound_ ABSL_GUARDED_BY(mu_);
  size_t inbound_held_ ABSL_GUARDED_BY(mu_) = 0;
  size_t outbound_held_ ABSL_GUARDED_BY(mu_) = 0;
  // Set while a stream reads the port; allocated only then.
  std::unique_ptr<std::function<void()>> receive_ready_ ABSL_GUARDED_BY(mu_);
  const core::Endpoint remote_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_pending_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_TUNNEL_PORT_H_
