// The packet loop both roles run on a worker: receive rounds from one
// socket (each datagram to the role, the payloads delivered to their ports
// in per-port runs after the round, the round's losses counted, the role's
// output applied), and the drain of a port (payloads taken, sealed into the
// worker's sender, counted, flushed). A role differs only in how it finds a
// tunnel, which it says through PumpRole: a client tunnel has one connected
// socket, one peer and one port; a gateway shard finds the tunnel by the
// datagram's remote address in its table.
//
// Threads: a pump and its role belong to one worker; every call is on that
// worker's loop thread. The role owns the pump.
#ifndef SNAPTUN_SERVICE_PACKET_PUMP_H_
#define SNAPTUN_SERVICE_PACKET_PUMP_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "service/tunnel_port.h"
#include "service/worker.h"
#include "tunnel/core/endpoint.h"
#include "tunnel/core/messages.h"
#include "tunnel/core/peer.h"
#include "tunnel/core/verdict.h"
#include "tunnel/io/datagram_channel.h"
#include "tunnel/io/receive_control.h"

namespace snaptun::service {

// How much a pump does in one turn of its worker's loop before other
// sockets, timers and the mailbox get theirs.
// Receive rounds per readiness event.
inline constexpr int kReceiveRoundsPerWake = 8;
// Payloads taken from a port and sealed per drain; a full drain asks for
// another on a later turn instead of looping.
inline constexpr size_t kDrainBatch = 256;

// How a role finds and drives its tunnels. Called on the worker thread.
class PumpRole {
 public:
  virtual ~PumpRole() = default;
  // One received datagram from `from`. A payload it opens goes to
  // `pump.Deliver`; a drop is the role's to count.
  virtual void OnDatagram(absl::Time now, absl::Span<uint8_t> datagram,
                          const core::Endpoint& from) = 0;
  // Seals `payload` for the tunnel at `to` into `datagram`.
  virtual core::SendResult Seal(absl::Time now, const core::Endpoint& to,
                                const Packet& payload,
                                absl::Span<uint8_t> datagram) = 0;
  // Acts on what the protocol asked for: events, datagrams, timers. The
  // role flushes the worker's sender here.
  virtual void Apply() = 0;
  // The channel the role receives on; null once it closed it. A role
  // closes its channel only in Apply (or outside the pump): during a round
  // the pump holds it, and the delivered payloads may point into it.
  virtual io::DatagramChannel* channel() = 0;
  // A receive round's outcome.
  virtual void ReceiveFailed(int error) = 0;
  virtual void ReceiveSucceeded(const io::ReceiveStats& stats) = 0;
  // `payload` was sealed and queued on the sender for `port`'s tunnel.
  virtual void Sent(TunnelPort& port, const Packet& payload) = 0;
  // `count` payloads or datagrams dropped for `reason`; `port` is the
  // tunnel's, when it has one and it is open. Payloads are counted once,
  // on their port: delivered ones by the port itself (rx), sent ones by
  // the role (Sent).
  virtual void Dropped(TunnelPort* port, core::DropReason reason,
                       uint64_t count) = 0;
};

class PacketPump {
 public:
  PacketPump(Worker& worker, core::Mode mode, PumpRole& role);
  PacketPump(const PacketPump&) = delete;
  PacketPump& operator=(const PacketPump&) = delete;

  // Up to kReceiveRoundsPerWake rounds on the role's channel (`channel()`
  // is asked again each round); stops early when the channel is drained, a
  // read fails, or the role closed the channel (it became null).
  void Receive(io::KernelDropCounter& kernel_drops);
  // From the role's OnDatagram: `payload` (inside the receive buffer) goes
  // to `port` when the round ends or at the next FlushDeliveries.
  void Deliver(TunnelPort& port, absl::Span<const uint8_t> payload) {
    deliveries_.emplace_back(&port, payload);
  }
  // Delivers what is queued now: the role calls it before a port changes
  // (a tunnel created, replaced or removed) in the middle of a round.
  void FlushDeliveries();
  // Takes up to kDrainBatch payloads from `port`, seals each for `to` and
  // queues it on the worker's sender. True when the port may hold more,
  // and the caller should drain again on a later turn of the loop.
  bool Drain(TunnelPort& port, const core::Endpoint& to);

 private:
  Worker& worker_;
  const core::Mode mode_;
  PumpRole& role_;
  // Payloads of one round, delivered in per-port runs after it.
  std::vector<std::pair<TunnelPort*, absl::Span<const uint8_t>>> deliveries_;
  std::vector<absl::Span<const uint8_t>> run_;
  std::vector<Packet> outbound_;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_PACKET_PUMP_H_
