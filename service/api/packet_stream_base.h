// What the two packet streams (StreamPackets and StreamGatewayPackets)
// share: one write in flight, the stream finished exactly once, and the
// half-close rule (when the caller stops sending, the stream ends OK once
// the write in flight, if any, is done). Subclasses read, and build their
// next write in MaybeWrite; every state flag is guarded by `mu_`.
#ifndef SNAPTUN_SERVICE_API_PACKET_STREAM_BASE_H_
#define SNAPTUN_SERVICE_API_PACKET_STREAM_BASE_H_

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "service/api/convert.h"

namespace snaptun::service {

template <typename Request, typename Response>
class PacketStreamBase : public grpc::ServerBidiReactor<Request, Response> {
 public:
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

  absl::Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;

 private:
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_API_PACKET_STREAM_BASE_H_
