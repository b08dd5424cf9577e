// GatewayMuxStream: attach, forward by handle or SCION destination, write
// batches from the sink.
#include "service/api/gateway_mux_stream.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "service/api/convert.h"
#include "service/error_reason.h"
#include "tunnel/scion/packet.h"

namespace snaptun::service {
namespace {

constexpr size_t kPacketsPerWrite = 1024;

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()),
                             s.size());
}

}  // namespace

GatewayMuxStream::GatewayMuxStream(SessionManager& sessions,
                                   DataPlaneMetrics* metrics,
                                   size_t max_write_bytes,
                                   grpc::Status precheck)
    : sessions_(sessions),
      metrics_(metrics),
      max_write_bytes_(max_write_bytes),
      sink_(std::make_shared<GatewayMuxSink>(WakeCallback())) {
  if (!precheck.ok()) {
    absl::MutexLock lock(&mu_);
    FinishOnce(precheck);
    return;
  }
  StartRead(&in_);
}

void GatewayMuxStream::Evict() {
  absl::MutexLock lock(&mu_);
  FinishOnce(
      ToGrpc(WithReason(absl::AbortedError(absl::StrCat(
                            "another stream took shard ", shard_, " over")),
                        reason::kStreamTakenOver)));
}

bool GatewayMuxStream::Attach() {
  const uint32_t count = in_.shard_count() == 0 ? 1 : in_.shard_count();
  absl::StatusOr<uint64_t> holder = sessions_.AttachGatewayMux(
      in_.shard(), count, in_.takeover(), sink_, EvictCallback());
  absl::MutexLock lock(&mu_);
  if (!holder.ok()) {
    FinishOnce(ToGrpc(holder.status()));
    return false;
  }
  attached_ = true;
  shard_ = in_.shard();
  holder_ = *holder;
  return !finished_;
}

void GatewayMuxStream::OnReadDone(bool ok) {
  if (!ok) {
    absl::MutexLock lock(&mu_);
    ReadsDoneLocked();
    return;
  }
  if (!attached_ && !Attach()) return;
  if (in_.handles_size() != 0 && in_.handles_size() != in_.packets_size()) {
    absl::MutexLock lock(&mu_);
    FinishOnce(ToGrpc(InvalidField(
        "handles",
        absl::StrCat("give one handle per packet or none: ", in_.handles_size(),
                     " handles for ", in_.packets_size(), " packets"))));
    return;
  }
  Forward();
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    StartReadLocked(&in_);
  }
  MaybeWrite();
}

void GatewayMuxStream::CountDrop(core::DropReason reason, uint64_t count,
                                 TunnelPort* port) {
  CountStreamDrop(metrics_, Role::kGateway, port, reason, count);
}

std::shared_ptr<TunnelPort> GatewayMuxStream::Dispatch(
    absl::Span<const uint8_t> packet, core::DropReason& drop) {
  scion::PacketView view;
  if (scion::Parse(packet, view) != scion::ParseError::kNone) {
    drop = core::DropReason::kMalformedPacket;
    return nullptr;
  }
  drop = core::DropReason::kNoTunnel;
  const std::optional<core::Endpoint> to =
      scion::DispatchDestination(packet, view);
  if (!to.has_value()) return nullptr;
  if (auto port = sink_->PortAt(*to)) return port;
  return sessions_.GatewayPortAt(*to);
}

void GatewayMuxStream::Forward() {
  std::vector<absl::Span<const uint8_t>> run;
  std::shared_ptr<TunnelPort> run_port;
  uint32_t last_handle = 0;
  std::shared_ptr<TunnelPort> last_port;
  auto flush = [&] {
    if (run.empty()) return;
    if (run_port->closed()) {
      CountDrop(core::DropReason::kNoTunnel, run.size());
      run.clear();
      return;
    }
    const size_t accepted = run_port->SendCopies(run);
    CountDrop(core::DropReason::kStreamBackpressure, run.size() - accepted,
              run_port.get());
    run.clear();
  };
  for (int i = 0; i < in_.packets_size(); ++i) {
    const absl::Span<const uint8_t> packet = Bytes(in_.packets(i));
    if (packet.empty()) continue;
    if (packet.size() > kMaxStreamPayload) {
      CountDrop(core::DropReason::kOversize, 1);
      continue;
    }
    const uint32_t handle = in_.handles_size() == 0 ? 0 : in_.handles(i);
    std::shared_ptr<TunnelPort> port;
    core::DropReason drop = core::DropReason::kNoTunnel;
    if (handle == 0) {
      port = Dispatch(packet, drop);
    } else if (handle == last_handle) {
      port = last_port;
    } else {
      port = sink_->PortOf(handle);
      last_handle = handle;
      last_port = port;
    }
    if (port == nullptr) {
      CountDrop(drop, 1);
      continue;
    }
    if (port != run_port) {
      flush();
      run_port = port;
    }
    run.push_back(packet);
  }
  flush();
}

void GatewayMuxStream::MaybeWrite() {
  absl::MutexLock lock(&mu_);
  // Before the stream attaches its sink carries no tunnel: nothing to take.
  if (!MayWriteLocked()) return;
  sink_->TakeBatch(kPacketsPerWrite, max_write_bytes_, batch_);
  if (batch_.empty()) {
    if (sink_->exhausted()) {
      FinishOnce(ToGrpc(absl::ResourceExhaustedError(
          "this stream has used all 2^32 - 1 tunnel handles; open a new one")));
    }
    return;
  }
  out_.Clear();
  for (const MuxTunnel& t : batch_.announced) {
    v1::GatewayTunnelHandle& h = *out_.add_announced();
    h.set_handle(t.handle);
    h.set_tunnel_id(t.tunnel_id);
    h.set_remote_address(t.remote.ToString());
  }
  for (uint32_t h : batch_.released) out_.add_released(h);
  out_.mutable_packets()->Reserve(batch_.packets.size());
  for (const Packet& p : batch_.packets) out_.add_packets(p.data(), p.size());
  for (uint32_t h : batch_.handles) out_.add_handles(h);
  out_.set_dropped(batch_.dropped);
  StartWriteLocked(&out_);
}

void GatewayMuxStream::OnDone() {
  link_->Cut();
  if (attached_) sessions_.DetachGatewayMux(shard_, holder_);
  sink_->ReleaseAll();
  delete this;
}

}  // namespace snaptun::service
