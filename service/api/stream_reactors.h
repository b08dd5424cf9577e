// The two streaming RPCs as callback reactors.
//
// PacketStream (StreamPackets): the first message names the tunnel (and may
// take it over from a stream already attached, which then ends with
// ABORTED); its packets, and those of every later message, go into the
// tunnel's send queue. A full queue drops the rest of that message, counted as
// `stream_backpressure` (the caller sent faster than the tunnel carries).
// Packets from the tunnel are written back in batches of up to 256 packets
// and 1 MiB of payload (so a client with gRPC's default 4 MiB receive limit
// can read any batch), one write in flight; while a write is pending they wait
// in the tunnel's bounded receive queue, and beyond its capacity they are
// dropped as `receive_queue_full` (the reader is slow). Each written batch
// reports, in `dropped`, how many were dropped since the previous one. Closing
// the tunnel ends the stream with CANCELLED.
//
// EventStream (WatchTunnels): one event per write from a bounded
// subscription; a watcher that falls too far behind is ended with
// RESOURCE_EXHAUSTED rather than buffered without bound.
#ifndef SNAPTUN_SERVICE_API_STREAM_REACTORS_H_
#define SNAPTUN_SERVICE_API_STREAM_REACTORS_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "proto/snaptun/v1/snaptun.grpc.pb.h"
#include "service/api/packet_stream_base.h"
#include "service/session_manager.h"

namespace snaptun::service {

class PacketStream final
    : public PacketStreamBase<v1::PacketBatch, v1::PacketBatch> {
 public:
  // `max_write_bytes` caps the payload bytes of one written PacketBatch.
  PacketStream(SessionManager& sessions, DataPlaneMetrics* metrics,
               size_t max_write_bytes, grpc::Status auth);

  void OnReadDone(bool ok) override;
  void OnDone() override;

 private:
  // True when a write may now be possible.
  bool HandleRead(bool ok);
  void Evict() override;
  void MaybeWrite() override;

  SessionManager& sessions_;
  DataPlaneMetrics* const metrics_;
  const size_t max_write_bytes_;
  v1::PacketBatch in_;
  v1::PacketBatch out_ ABSL_GUARDED_BY(mu_);
  std::string tunnel_id_ ABSL_GUARDED_BY(mu_);
  Role role_ ABSL_GUARDED_BY(mu_) = Role::kClient;
  std::shared_ptr<TunnelPort> port_ ABSL_GUARDED_BY(mu_);
  uint64_t holder_ ABSL_GUARDED_BY(mu_) = 0;
  bool evicted_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t dropped_reported_ ABSL_GUARDED_BY(mu_) = 0;
};

class EventStream final : public grpc::ServerWriteReactor<v1::TunnelEvent> {
 public:
  EventStream(SessionManager& sessions, const v1::WatchTunnelsRequest& request,
              grpc::Status auth);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  void MaybeWrite();

  SessionManager& sessions_;
  std::shared_ptr<EventSubscription> subscription_;
  std::shared_ptr<ReactorLink> link_ = std::make_shared<ReactorLink>();
  absl::Mutex mu_;
  v1::TunnelEvent out_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_API_STREAM_REACTORS_H_
