// Receive rounds and port drains, the same for both roles.
#include "service/packet_pump.h"

#include "tunnel/io/receive_round.h"

namespace snaptun::service {

PacketPump::PacketPump(Worker& worker, core::Mode mode, PumpRole& role)
    : worker_(worker), mode_(mode), role_(role) {}

void PacketPump::Receive(io::KernelDropCounter& kernel_drops) {
  for (int round = 0; round < kReceiveRoundsPerWake; ++round) {
    io::DatagramChannel* channel = role_.channel();
    if (channel == nullptr) return;
    const absl::Time now = worker_.loop().clock().Now();
    absl::StatusOr<io::ReceiveStats> received = channel->Receive(
        worker_.receiver(),
        [&](absl::Span<uint8_t> datagram, const core::Endpoint& from) {
          role_.OnDatagram(now, datagram, from);
        });
    FlushDeliveries();
    if (!received.ok()) {
      role_.ReceiveFailed(channel->error());
      return;
    }
    role_.ReceiveSucceeded(*received);
    const io::RoundLosses lost =
        io::AccountRound(*received, *channel, kernel_drops);
    if (lost.socket_overflow != 0) {
      role_.Dropped(nullptr, core::DropReason::kSocketOverflow,
                    lost.socket_overflow);
    }
    if (lost.oversize != 0) {
      role_.Dropped(nullptr, core::DropReason::kOversize, lost.oversize);
    }
    role_.Apply();
    if (lost.drained) return;
  }
}

void PacketPump::FlushDeliveries() {
  if (deliveries_.empty()) return;
  // Consecutive payloads of one tunnel go in one batch: one lock, one wake.
  for (size_t i = 0; i < deliveries_.size();) {
    TunnelPort* port = deliveries_[i].first;
    run_.clear();
    for (; i < deliveries_.size() && deliveries_[i].first == port; ++i) {
      run_.push_back(deliveries_[i].second);
    }
    port->DeliverBatch(run_);
  }
  deliveries_.clear();
}

bool PacketPump::Drain(TunnelPort& port, const core::Endpoint& to) {
  outbound_.clear();
  const size_t taken = port.TakeOutbound(outbound_, kDrainBatch);
  const absl::Time now = worker_.loop().clock().Now();
  io::BatchSender& sender = worker_.sender();
  for (size_t i = 0; i < outbound_.size(); ++i) {
    const Packet& payload = outbound_[i];
    if (sender.full()) {
      role_.Apply();
      // Applying may have closed the tunnel, whose counts then went to the
      // role: the rest are the role's to count.
      if (port.closed()) {
        role_.Dropped(nullptr, core::DropReason::kNoTunnel,
                      outbound_.size() - i);
        break;
      }
    }
    absl::Span<uint8_t> datagram =
        sender.Reserve(to, core::Peer::SealedSize(payload.size(), mode_));
    const core::SendResult result = role_.Seal(now, to, payload, datagram);
    switch (result.status) {
      case core::SendOutcome::kSent:
        sender.Commit(result.size);
        role_.Sent(port, payload);
        break;
      case core::SendOutcome::kQueued:
        break;
      case core::SendOutcome::kDropped:
        role_.Dropped(&port, result.drop, 1);
        break;
    }
  }
  role_.Apply();
  return taken == kDrainBatch;
}

}  // namespace snaptun::service
