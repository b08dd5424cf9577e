// The echo benchmark's packet streams on gRPC's callback API: gRPC's own
// threads run every reaction, so the benchmark needs no thread per stream.
//
// EchoBack is a gateway tunnel's stream: every batch it reads goes back out
// (a read starts when the previous write is done, so one of each is in
// flight). PacketSender is a client tunnel's stream: it writes batches back
// to back, paced to a rate (or unpaced) and within a window of packets in
// flight, and counts what comes back. A driver thread calls Tick() about
// every millisecond: it resumes a sender whose pacing time came, and takes
// what is in flight as lost after 50 ms without an echo, so drops cannot
// stall the window.
#ifndef SNAPTUN_CLI_ECHO_STREAMS_H_
#define SNAPTUN_CLI_ECHO_STREAMS_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/snaptun/v1/snaptun.grpc.pb.h"

namespace snaptun::cli {

// Packets counted over every sender of one run.
struct EchoCounts {
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> echoed{0};
  std::atomic<uint64_t> dropped{0};
  // Packets the window took as lost: in flight when no echo had come for
  // 50 ms. Every packet sent is echoed, dropped, written off or still in
  // flight (at most a window per tunnel).
  std::atomic<uint64_t> written_off{0};
};

// Waits for the end of a callback stream.
class StreamEnd {
 public:
  void Done() {
    absl::MutexLock lock(&mu_);
    done_ = true;
  }
  void Wait() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
  }

 private:
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

class EchoBack
    : public grpc::ClientBidiReactor<v1::PacketBatch, v1::PacketBatch> {
 public:
  // Starts the stream for `tunnel_id`; `context` has no deadline.
  EchoBack(v1::TunnelService::Stub& stub,
           std::unique_ptr<grpc::ClientContext> context,
           const std::string& tunnel_id);
  // Cancels the stream and waits for its end.
  void Stop();

 private:
  void OnWriteDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

  std::unique_ptr<grpc::ClientContext> context_;
  v1::PacketBatch batch_;
  StreamEnd end_;
};

class PacketSender
    : public grpc::ClientBidiReactor<v1::PacketBatch, v1::PacketBatch> {
 public:
  struct Options {
    int payload_size = 1000;
    int batch = 128;
    int rate = 0;    // Packets per second; 0 = unpaced.
    int window = 0;  // Packets in flight; 0 = no limit.
  };

  PacketSender(v1::TunnelService::Stub& stub,
               std::unique_ptr<grpc::ClientContext> context,
               const std::string& tunnel_id, const Options& options,
               EchoCounts& counts);
  // Resumes writing when it may; see the file comment.
  void Tick();
  // No batch is written after this; echoes still come back.
  void StopWriting();
  // Cancels the stream and waits for its end. Call once, after the last
  // Tick().
  void Stop();

 private:
  void OnWriteDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;
  // Claims the next write if it may go now (not writing, paced time come,
  // room in the window); the caller then starts it without the lock.
  bool ClaimWriteLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WriteIfDue();

  std::unique_ptr<grpc::ClientContext> context_;
  const Options options_;
  const absl::Duration interval_;
  EchoCounts& counts_;
  v1::PacketBatch first_;
  v1::PacketBatch batch_;  // Written again and again, never changed.
  v1::PacketBatch in_;
  StreamEnd end_;
  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = true;  // The tunnel id goes first.
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  int64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time next_send_ ABSL_GUARDED_BY(mu_);
  absl::Time last_return_ ABSL_GUARDED_BY(mu_);
};

}  // namespace snaptun::cli

#endif  // SNAPTUN_CLI_ECHO_STREAMS_H_
