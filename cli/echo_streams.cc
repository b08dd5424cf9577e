// Callback-API streams of the echo benchmark: reactions decide under a lock
// and start gRPC operations after releasing it.
#include "cli/echo_streams.h"

#include <algorithm>
#include <utility>

namespace snaptun::cli {
namespace {

// How long the window waits for an echo before taking what is in flight as
// lost.
constexpr absl::Duration kLostAfter = absl::Milliseconds(50);

}  // namespace

EchoBack::EchoBack(v1::TunnelService::Stub& stub,
                   std::unique_ptr<grpc::ClientContext> context,
                   const std::string& tunnel_id)
    : context_(std::move(context)) {
  stub.async()->StreamPackets(context_.get(), this);
  batch_.set_tunnel_id(tunnel_id);
  StartWrite(&batch_);
  StartCall();
}

void EchoBack::OnWriteDone(bool ok) {
  // The next read starts once `batch_` is free again.
  if (ok) StartRead(&batch_);
}

void EchoBack::OnReadDone(bool ok) {
  if (!ok) return;
  batch_.clear_tunnel_id();
  StartWrite(&batch_);
}

void EchoBack::OnDone(const grpc::Status&) { end_.Done(); }

void EchoBack::Stop() {
  context_->TryCancel();
  end_.Wait();
}

PacketSender::PacketSender(v1::TunnelService::Stub& stub,
                           std::unique_ptr<grpc::ClientContext> context,
                           const std::string& tunnel_id, const Options& options,
                           EchoCounts& counts)
    : context_(std::move(context)),
      options_(options),
      interval_(options.rate > 0
                    ? absl::Seconds(1.0 * options.batch / options.rate)
                    : absl::ZeroDuration()),
      counts_(counts),
      next_send_(absl::Now()),
      last_return_(absl::Now()) {
  const std::string payload(options.payload_size, 'x');
  for (int k = 0; k < options.batch; ++k) batch_.add_packets(payload);
  first_.set_tunnel_id(tunnel_id);
  stub.async()->StreamPackets(context_.get(), this);
  // Tick() may start writes from the driver's thread: the hold keeps the
  // stream open for them until Stop().
  AddHold();
  StartWrite(&first_);
  StartRead(&in_);
  StartCall();
}

bool PacketSender::ClaimWriteLocked(absl::Time now) {
  if (writing_ || stopped_) return false;
  if (interval_ > absl::ZeroDuration() && now < next_send_) return false;
  if (options_.window > 0 && in_flight_ > 0 &&
      in_flight_ + options_.batch > options_.window) {
    if (now - last_return_ < kLostAfter) return false;
    // No echo for a while: what was in flight is lost.
    counts_.written_off += in_flight_;
    in_flight_ = 0;
  }
  writing_ = true;
  in_flight_ += options_.batch;
  next_send_ += interval_;
  return true;
}

void PacketSender::WriteIfDue() {
  bool claimed;
  {
    absl::MutexLock lock(&mu_);
    claimed = ClaimWriteLocked(absl::Now());
  }
  if (claimed) {
    counts_.sent += options_.batch;
    StartWrite(&batch_);
  }
}

void PacketSender::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) stopped_ = true;
  }
  if (ok) WriteIfDue();
}

void PacketSender::OnReadDone(bool ok) {
  if (!ok) return;
  const int64_t back = in_.packets_size() + in_.dropped();
  counts_.echoed += in_.packets_size();
  counts_.dropped += in_.dropped();
  {
    absl::MutexLock lock(&mu_);
    in_flight_ = std::max<int64_t>(0, in_flight_ - back);
    last_return_ = absl::Now();
  }
  StartRead(&in_);
  WriteIfDue();
}

void PacketSender::Tick() { WriteIfDue(); }

void PacketSender::OnDone(const grpc::Status&) { end_.Done(); }

void PacketSender::StopWriting() {
  absl::MutexLock lock(&mu_);
  stopped_ = true;
}

void PacketSender::Stop() {
  StopWriting();
  context_->TryCancel();
  RemoveHold();
  end_.Wait();
}

}  // namespace snaptun::cli
