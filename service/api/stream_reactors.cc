// PacketStream and EventStream.
#include "service/api/stream_reactors.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "service/api/convert.h"
#include "service/error_reason.h"
#include "tunnel/core/messages.h"

namespace snaptun::service {
namespace {

constexpr size_t kPacketsPerWrite = 256;

grpc::Status Closed(const std::string& tunnel_id) {
  return ToGrpc(WithReason(
      absl::CancelledError(absl::StrCat("tunnel ", tunnel_id, " closed")),
      reason::kTunnelClosed));
}

}  // namespace

PacketStream::PacketStream(SessionManager& sessions, DataPlaneMetrics* metrics,
                           size_t max_write_bytes, grpc::Status auth)
    : sessions_(sessions),
      metrics_(metrics),
      max_write_bytes_(max_write_bytes) {
  if (!auth.ok()) {
    absl::MutexLock lock(&mu_);
    FinishOnce(auth);
    return;
  }
  StartRead(&in_);
}

void PacketStream::Evict() {
  absl::MutexLock lock(&mu_);
  // The tunnel's port now feeds the new stream; leave its callback alone.
  evicted_ = true;
  FinishOnce(ToGrpc(
      WithReason(absl::AbortedError(absl::StrCat("another stream took tunnel ",
                                                 tunnel_id_, " over")),
                 reason::kStreamTakenOver)));
}

void PacketStream::OnReadDone(bool ok) {
  if (HandleRead(ok)) MaybeWrite();
}

bool PacketStream::HandleRead(bool ok) {
  absl::MutexLock lock(&mu_);
  if (finished_) return false;
  if (!ok) {
    ReadsDoneLocked();
    return false;
  }
  if (port_ == nullptr) {
    if (in_.tunnel_id().empty()) {
      FinishOnce(ToGrpc(InvalidField(
          "tunnel_id", "the first PacketBatch must name tunnel_id")));
      return false;
    }
    absl::StatusOr<SessionManager::StreamAttachment> attached =
        sessions_.AttachStream(in_.tunnel_id(), in_.takeover(),
                               EvictCallback());
    if (!attached.ok()) {
      FinishOnce(ToGrpc(attached.status()));
      return false;
    }
    port_ = attached->port;
    holder_ = attached->holder;
    tunnel_id_ = in_.tunnel_id();
    if (absl::StatusOr<TunnelSnapshot> info = sessions_.Get(tunnel_id_);
        info.ok()) {
      role_ = info->role;
    }
    port_->SetReceiveReady(WakeCallback());
  } else if (!in_.tunnel_id().empty() && in_.tunnel_id() != tunnel_id_) {
    FinishOnce(ToGrpc(InvalidField(
        "tunnel_id", absl::StrCat("this stream carries tunnel ", tunnel_id_,
                                  ", not ", in_.tunnel_id()))));
    return false;
  }
  // Views, not copies: the port copies only what fits its queue.
  std::vector<absl::Span<const uint8_t>> packets;
  packets.reserve(in_.packets_size());
  uint64_t oversize = 0;
  for (const std::string& p : in_.packets()) {
    if (p.empty()) continue;
    if (p.size() > kMaxStreamPayload) {
      ++oversize;
      continue;
    }
    packets.emplace_back(reinterpret_cast<const uint8_t*>(p.data()), p.size());
  }
  const size_t offered = packets.size();
  const size_t accepted = offered == 0 ? 0 : port_->SendCopies(packets);
  const uint64_t backpressure = offered - accepted;
  CountStreamDrop(metrics_, role_, port_.get(), core::DropReason::kOversize,
                  oversize);
  CountStreamDrop(metrics_, role_, port_.get(),
                  core::DropReason::kStreamBackpressure, backpressure);
  if (port_->closed()) {
    FinishOnce(Closed(tunnel_id_));
    return false;
  }
  StartRead(&in_);
  return true;
}

void PacketStream::MaybeWrite() {
  absl::MutexLock lock(&mu_);
  if (!MayWriteLocked() || port_ == nullptr) return;
  std::vector<Packet> got;
  port_->Receive(got, kPacketsPerWrite, absl::ZeroDuration(), max_write_bytes_);
  if (got.empty()) {
    if (port_->closed()) FinishOnce(Closed(tunnel_id_));
    return;
  }
  out_.Clear();
  out_.set_tunnel_id(tunnel_id_);
  for (const Packet& p : got) out_.add_packets(p.data(), p.size());
  const uint64_t dropped =
      port_->counters().dropped(core::DropReason::kReceiveQueueFull);
  out_.set_dropped(dropped - dropped_reported_);
  dropped_reported_ = dropped;
  StartWriteLocked(&out_);
}

void PacketStream::OnDone() {
  link_->Cut();
  std::string id;
  uint64_t holder = 0;
  {
    absl::MutexLock lock(&mu_);
    if (port_ != nullptr && !evicted_) port_->SetReceiveReady(nullptr);
    id = tunnel_id_;
    holder = holder_;
  }
  if (!id.empty()) sessions_.DetachStream(id, holder);
  delete this;
}

EventStream::EventStream(SessionManager& sessions,
                         const v1::WatchTunnelsRequest& request,
                         grpc::Status auth)
    : sessions_(sessions) {
  {
    absl::MutexLock lock(&link_->mu);
    link_->wake = [this] { MaybeWrite(); };
  }
  if (!auth.ok()) {
    absl::MutexLock lock(&mu_);
    finished_ = true;
    Finish(auth);
    return;
  }
  std::map<std::string, std::string> labels(request.labels().begin(),
                                            request.labels().end());
  absl::StatusOr<std::shared_ptr<EventSubscription>> subscription =
      sessions_.Subscribe(request.tunnel_id(), std::move(labels),
                          request.include_existing());
  if (!subscription.ok()) {
    absl::MutexLock lock(&mu_);
    finished_ = true;
    Finish(ToGrpc(subscription.status()));
    return;
  }
  subscription_ = std::move(*subscription);
  std::weak_ptr<ReactorLink> link = link_;
  subscription_->SetReady([link] {
    if (auto l = link.lock()) l->Wake();
  });
  // Initial metadata tells the caller it is subscribed: every event after
  // it arrives reaches this stream (docs/API.md).
  StartSendInitialMetadata();
  MaybeWrite();
}

void EventStream::MaybeWrite() {
  absl::MutexLock lock(&mu_);
  if (finished_ || writing_) return;
  if (subscription_->overflowed()) {
    finished_ = true;
    Finish(ToGrpc(WithReason(
        absl::ResourceExhaustedError("this watcher fell too far behind; watch "
                                     "again with include_existing to "
                                     "resynchronize"),
        reason::kWatcherTooSlow)));
    return;
  }
  // Read before popping: an event queued after an empty pop but before
  // End() would otherwise be lost with the stream.
  const bool ended = subscription_->ended();
  std::optional<SessionEvent> event = sessions_.NextEvent(*subscription_);
  if (!event.has_value()) {
    if (ended) {
      finished_ = true;
      Finish(ToGrpc(
          WithReason(absl::UnavailableError(
                         "the daemon is shutting down; watch another replica"),
                     reason::kShuttingDown)));
    }
    return;
  }
  out_.Clear();
  ToProto(*event, out_);
  writing_ = true;
  StartWrite(&out_);
}

void EventStream::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok && !finished_) {
      finished_ = true;
      Finish(grpc::Status::CANCELLED);
      return;
    }
  }
  MaybeWrite();
}

void EventStream::OnCancel() {
  absl::MutexLock lock(&mu_);
  if (finished_) return;
  finished_ = true;
  Finish(grpc::Status::CANCELLED);
}

void EventStream::OnDone() {
  link_->Cut();
  if (subscription_ != nullptr) sessions_.Unsubscribe(subscription_);
  delete this;
}

}  // namespace snaptun::service
