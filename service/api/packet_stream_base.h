// What the two packet streams (StreamPackets and StreamGatewayPackets)
// share: one write in flight, the stream finished exactly once, the
// half-close rule (when the caller stops sending, the stream ends OK once
// the write in flight, if any, is done), the link through which the data
// plane and the session manager reach the stream while it exists, and how
// a packet the stream cannot pass on is counted. Subclasses read, build
// their next write in MaybeWrite and end in Evict when another stream takes
// over; every state flag is guarded by `mu_`.
#ifndef SNAPTUN_SERVICE_API_PACKET_STREAM_BASE_H_
#define SNAPTUN_SERVICE_API_PACKET_STREAM_BASE_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "service/api/convert.h"
#include "service/dataplane_metrics.h"
#include "service/tunnel_port.h"
#include "tunnel/core/messages.h"

namespace snaptun::service {

// The largest payload a tunnel can carry in one datagram; a stream drops
// larger ones as `oversize`.
inline constexpr size_t kMaxStreamPayload = core::kMaxDatagramSize - 32;

// Lets data-plane callbacks reach a reactor only while it exists.
struct ReactorLink {
  absl::Mutex mu;
  std::function<void()> wake ABSL_GUARDED_BY(mu);
  std::function<void()> evict ABSL_GUARDED_BY(mu);
  void Wake() {
    absl::MutexLock lock(&mu);
    if (wake) wake();
  }
  void Evict() {
    absl::MutexLock lock(&mu);
    if (evict) evict();
  }
  void Cut() {
    absl::MutexLock lock(&mu);
    wake = nullptr;
    evict = nullptr;
  }
};

// Packets a stream could not pass on: counted on their tunnel while it is
// open (the role's totals add it up), or else for the role.
inline void CountStreamDrop(DataPlaneMetrics* metrics, Role role,
                            TunnelPort* port, core::DropReason reason,
                            uint64_t count) {
  if (count == 0) return;
  if (port != nullptr && port->CountDrop(reason, count)) return;
  if (metrics != nullptr) metrics->role(role).Drop(reason, count, 0);
}

template <typename Request, typename Response>
class PacketStreamBase : public grpc::ServerBidiReactor<Request, Response> {
 public:
  PacketStreamBase() {
    absl::MutexLock lock(&link_->mu);
    link_->wake = [this] { MaybeWrite(); };
    link_->evict = [this] { Evict(); };
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {
        FinishOnce(ToGrpc(absl::CancelledError("the caller stopped reading")));
        return;
      }
      if (reads_done_) {
        FinishOnce(grpc::Status::OK);
        return;
      }
    }
    MaybeWrite();
  }
  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishOnce(grpc::Status::CANCELLED);
  }

 protected:
  // Starts the next write if one may start and something waits.
  virtual void MaybeWrite() = 0;
  // Another stream took over what this one carried: end (ABORTED).
  virtual void Evict() = 0;

  // Callbacks for the data plane and the session manager that reach this
  // stream only while it exists (OnDone cuts the link first).
  std::function<void()> WakeCallback() const {
    return [link = std::weak_ptr<ReactorLink>(link_)] {
      if (auto l = link.lock()) l->Wake();
    };
  }
  std::function<void()> EvictCallback() const {
    return [link = std::weak_ptr<ReactorLink>(link_)] {
      if (auto l = link.lock()) l->Evict();
    };
  }

  // The caller half-closed.
  void ReadsDoneLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    reads_done_ = true;
    if (!writing_) FinishOnce(grpc::Status::OK);
  }
  void FinishOnce(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    this->Finish(status);
  }
  // No write in flight, and the stream is not ending.
  bool MayWriteLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return !finished_ && !writing_ && !reads_done_;
  }
  void StartWriteLocked(const Response* response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writing_ = true;
    this->StartWrite(response);
  }
  // The next read, unless the stream already ended.
  void StartReadLocked(Request* request) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!finished_) this->StartRead(request);
  }

  const std::shared_ptr<ReactorLink> link_ = std::make_shared<ReactorLink>();
  absl::Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;

 private:
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_API_PACKET_STREAM_BASE_H_
