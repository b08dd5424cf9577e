// One worker's share of the gateway: its own SO_REUSEPORT socket on the
// gateway's port (the kernel spreads remote addresses over the sockets, so a
// remote address always lands on the same shard), the tunnel table for the
// tunnels that arrive there, and the ports through which those tunnels'
// payloads leave and enter. Everything here runs on the worker's thread.
#ifndef SNAPTUN_SERVICE_GATEWAY_SHARD_H_
#define SNAPTUN_SERVICE_GATEWAY_SHARD_H_

#include <atomic>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "service/dataplane_metrics.h"
#include "service/gateway_config.h"
#include "service/gateway_observer.h"
#include "service/packet_policy.h"
#include "service/packet_pump.h"
#include "service/read_pause.h"
#include "service/residents.h"
#include "service/role_traffic.h"
#include "service/tunnel_port.h"
#include "service/worker.h"
#include "tunnel/core/tunnel_table.h"
#include "tunnel/io/datagram_channel.h"
#include "tunnel/io/receive_control.h"

namespace snaptun::service {

// What every shard of one gateway shares, with the gateway (a shard may be
// destroyed after the gateway, when its worker sweeps it).
struct GatewayShared {
  // Datagrams read from the shards' sockets (no metric of its own).
  metrics::WorkerCounter datagrams_received;
  // Tunnels on all shards; any thread reads it.
  std::atomic<size_t> tunnels{0};
  // One limiter and replay record for all workers (handshake_ledger.h).
  std::unique_ptr<core::HandshakeLedger> ledger;
};

// A resident of its worker (residents.h): the worker owns it, and every
// callback reaches it by its id. Its ports hold the counts of its tunnels,
// which the role's totals add up (role_traffic.h).
class GatewayShard final : public Resident,
                           private PumpRole,
                           private RoleTraffic::Owner {
 public:
  GatewayShard(Worker& worker, ResidentId id,
               std::unique_ptr<io::DatagramChannel> channel,
               const core::LocalIdentity& identity,
               const core::Authorizer& authorizer,
               std::shared_ptr<const GatewayConfig> config, size_t workers,
               GatewayObserver* observer,
               std::shared_ptr<GatewayShared> shared);
  // Hands the counts of the ports still open to the role.
  ~GatewayShard() override;

  // Loop-thread only.
  // Watches the socket; an error when epoll refuses it.
  absl::Status Start();
  void Stop();
  size_t RemoveIdentity(const crypto::PublicKey& identity);
  // Removes the tunnel at `remote` if its port is `port`.
  bool Remove(const core::Endpoint& remote, const TunnelPort* port);

 private:
  // The limits and hooks every port of this shard shares.
  std::shared_ptr<const PortContext> MakePortContext();
  // The pump's questions (packet_pump.h), grouped by concern below: the
  // gateway finds a tunnel by remote address in its table, and its one
  // socket is shared by every tunnel of the shard.
  //
  // Reading: the socket became readable; a round's outcome.
  void OnReadable();
  io::DatagramChannel* channel() override {
    return running_ ? channel_.get() : nullptr;
  }
  absl::Status WatchSocket();
  // Counted for the role; reading pauses (ReadFailed).
  void ReceiveFailed(int error) override;
  // A read failed: counted, and reading pauses (read_pause.h).
  void ReadFailed();
  // The pause is over: watch the socket again.
  void ResumeReading();
  // Resets the read pause; counts the datagrams read.
  void ReceiveSucceeded(const io::ReceiveStats& received) override;
  void OnTimer();
  // Inbound: through the table (handshakes create tunnels), then the
  // packet policy, whose refusal is counted.
  void OnDatagram(absl::Time now, absl::Span<uint8_t> datagram,
                  const core::Endpoint& from) override;
  bool PassesPolicy(absl::Span<const uint8_t> payload,
                    const core::Endpoint& from);
  // A datagram from `from` dropped: counted on its tunnel, if it has one,
  // or for the role.
  void DropFrom(const core::Endpoint& from, core::DropReason reason);
  // Outbound: the port of the tunnel at `remote` is drained by the pump,
  // each payload sealed by the table's tunnel at `to`.
  void DrainPort(const core::Endpoint& remote);
  core::SendResult Seal(absl::Time now, const core::Endpoint& to,
                        const Packet& payload,
                        absl::Span<uint8_t> datagram) override;
  // The packet policy's egress count and the port's tx.
  void Sent(TunnelPort& port, const Packet& payload) override;
  // On the port when the drop has a tunnel, or for the role.
  void Dropped(TunnelPort* port, core::DropReason reason,
               uint64_t count) override;
  // RoleTraffic::Owner: the open ports' counts.
  void AddLiveCounts(CountersSnapshot& total) const override;
  // Acts on everything the table asked for, sends, re-arms the timer.
  void Apply() override;
  // Apply's parts: payloads sealed once a handshake completed, a tunnel
  // created (its port), a peer event, a tunnel removed, and the datagrams
  // and drops of the table's output.
  void CountFlushed();
  void OnCreated(const GatewayTunnelInfo& info);
  void OnPeerEvent(const GatewayTunnelInfo& info, const core::PeerEvent& event);
  void OnRemoved(const GatewayTunnelInfo& info, core::RemovalReason reason);
  // The port of the tunnel at `remote`, if it has one.
  TunnelPort* PortAt(const core::Endpoint& remote) const;
  // Closes and forgets the port at `remote`, if any, with its gauge and
  // count; its counts go to the role's retired sum.
  void ClosePort(const core::Endpoint& remote);
  void SendOutput();
  void Reschedule();
  // A drop with no tunnel, for the role.
  void CountDrop(core::DropReason reason, uint64_t count = 1);
  // Payloads sealed and sent: on their tunnel's port, or for the role if it
  // has none.
  void CountSent(TunnelPort* port, uint64_t packets, uint64_t bytes);
  void CountInitiation(const core::IncomingResult& result);
  void CountPeerEvent(const core::PeerEvent& event);
  void CountFailure(core::HandshakeFailure failure);
  void MoveGauge(std::optional<TunnelGaugeState> from,
                 std::optional<TunnelGaugeState> to);

  Worker& worker_;
  const ResidentId id_;
  std::unique_ptr<io::DatagramChannel> channel_;
  io::KernelDropCounter kernel_drops_;
  ReadPause read_pause_;
  // The role's config; its metrics are set (the gateway's own if need be).
  const std::shared_ptr<const GatewayConfig> config_;
  GatewayObserver* const observer_;
  const std::shared_ptr<GatewayShared> shared_;
  core::TunnelTable table_;
  PacketPump pump_;
  RoleMetrics* const role_metrics_;  // Null without metrics.
  // The role's share on this worker; null without metrics.
  std::shared_ptr<RoleTraffic::Share> traffic_;
  core::TableOutput out_;
  // A tunnel's port and its state here, found by the port's remote address
  // (a set keyed by the port's own field, not a map with a second copy:
  // an idle tunnel holds one entry).
  struct PortEntry {
    std::shared_ptr<TunnelPort> port;
    // Connecting until the client confirms the first session. Mutable: the
    // set's key is the port's remote, which never changes.
    mutable TunnelState state = TunnelState::kConnecting;
  };
  struct PortEntryHash {
    using is_transparent = void;
    size_t operator()(const core::Endpoint& remote) const {
      return absl::Hash<core::Endpoint>()(remote);
    }
    size_t operator()(const PortEntry& entry) const {
      return (*this)(entry.port->remote());
    }
  };
  struct PortEntryEq {
    using is_transparent = void;
    static const core::Endpoint& Remote(const core::Endpoint& remote) {
      return remote;
    }
    static const core::Endpoint& Remote(const PortEntry& entry) {
      return entry.port->remote();
    }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return Remote(a) == Remote(b);
    }
  };
  absl::flat_hash_set<PortEntry, PortEntryHash, PortEntryEq> ports_;
  std::shared_ptr<const PortContext> port_context_;
  io::EventLoop::TimerId timer_ = 0;
  absl::Time timer_at_ = absl::InfiniteFuture();
  bool running_ = false;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_GATEWAY_SHARD_H_
