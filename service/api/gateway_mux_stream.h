// StreamGatewayPackets: one bidirectional stream for many gateway tunnels.
//
// The first message picks the stream's shard of the gateway's tunnels
// (session_manager.h, AttachGatewayMux). From then on, packets of every
// tunnel in the shard are written to the caller in batches of up to 1024
// packets and `max_write_bytes` of payload (plus at most one payload), each
// packet tagged with its tunnel's handle, announced once before its first
// use; one write is in flight, and while it is, packets wait in their
// tunnels' bounded receive queues (dropped beyond them as
// `receive_queue_full`, reported in `dropped`). Packets the caller writes go
// to the tunnel their handle names, or, without a handle, to the gateway
// tunnel whose remote address is the packet's SCION destination (host
// address and L4 port, scion/packet.h): a packet that names no tunnel (or
// a closed one) is dropped as `no_tunnel`, one without a handle that does
// not parse as `malformed_packet` (packets with a handle are not parsed),
// and a full send queue drops the rest of its run as
// `stream_backpressure`.
//
// Locking: the reactor never calls the session manager while holding its
// own lock. The manager wakes the reactor only after releasing its lock;
// workers wake it (and so may build a batch) on their threads, as for
// StreamPackets.
#ifndef SNAPTUN_SERVICE_API_GATEWAY_MUX_STREAM_H_
#define SNAPTUN_SERVICE_API_GATEWAY_MUX_STREAM_H_

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "proto/snaptun/v1/snaptun.grpc.pb.h"
#include "service/api/packet_stream_base.h"
#include "service/gateway_mux.h"
#include "service/session_manager.h"

namespace snaptun::service {

class GatewayMuxStream final
    : public PacketStreamBase<v1::GatewayPacketBatch, v1::GatewayPacketBatch> {
 public:
  GatewayMuxStream(SessionManager& sessions, DataPlaneMetrics* metrics,
                   size_t max_write_bytes, grpc::Status precheck);

  void OnReadDone(bool ok) override;
  void OnDone() override;

 private:
  // The first message: attach to the shard. False when the stream ended.
  bool Attach();
  // Sends the packets of `in_` to their tunnels, counting what is dropped.
  void Forward();
  // The tunnel a packet without a handle goes to, by its SCION destination.
  std::shared_ptr<TunnelPort> Dispatch(absl::Span<const uint8_t> packet,
                                       core::DropReason& drop);
  // Counted for the gateway role, and on `port` when there is one.
  void CountDrop(core::DropReason reason, uint64_t count,
                 TunnelPort* port = nullptr);
  void Evict() override;
  void MaybeWrite() override;

  SessionManager& sessions_;
  DataPlaneMetrics* const metrics_;
  const size_t max_write_bytes_;
  const std::shared_ptr<GatewayMuxSink> sink_;
  // Read side: one read in flight, so only OnReadDone touches these.
  v1::GatewayPacketBatch in_;
  bool attached_ = false;
  uint32_t shard_ = 0;
  uint64_t holder_ = 0;
  v1::GatewayPacketBatch out_ ABSL_GUARDED_BY(mu_);
  MuxBatch batch_ ABSL_GUARDED_BY(mu_);
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_API_GATEWAY_MUX_STREAM_H_
