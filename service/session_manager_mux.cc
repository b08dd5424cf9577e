// The session manager's side of the multiplexed gateway packet streams:
// which stream carries which gateway tunnel, and the hand-over between a
// multiplexed stream and a per-tunnel one.
#include "absl/strings/str_cat.h"
#include "service/error_reason.h"
#include "service/session_manager.h"

namespace snaptun::service {

absl::StatusOr<uint64_t> SessionManager::AttachGatewayMux(
    uint32_t shard, uint32_t shard_count, bool takeover,
    std::shared_ptr<GatewayMuxSink> sink, std::function<void()> evicted) {
  if (shard_count == 0 || shard_count > kMaxMuxShards || shard >= shard_count) {
    return InvalidField(
        "shard_count",
        absl::StrCat("shard ", shard, " of ", shard_count,
                     ": need shard < shard_count <= ", kMaxMuxShards));
  }
  std::function<void()> evict_previous;
  uint64_t holder = 0;
  {
    absl::MutexLock lock(&mu_);
    if (muxes_open_ > 0 && muxes_.size() != shard_count) {
      return WithReason(
          absl::FailedPreconditionError(absl::StrCat(
              "the open multiplexed streams split the tunnels into ",
              muxes_.size(), " shards, not ", shard_count)),
          reason::kStreamAlreadyAttached);
    }
    if (muxes_open_ == 0) muxes_.assign(shard_count, MuxSlot{});
    MuxSlot& slot = muxes_[shard];
    if (slot.holder != 0 && !takeover) {
      return WithReason(
          absl::FailedPreconditionError(absl::StrCat(
              "shard ", shard, " of ", shard_count,
              " already has a multiplexed stream (set takeover to replace "
              "it)")),
          reason::kStreamAlreadyAttached);
    }
    if (slot.holder != 0) {
      evict_previous = std::move(slot.evicted);
      slot.sink->ReleaseAll();
    } else {
      ++muxes_open_;
    }
    const uint64_t evicted_holder = slot.holder;
    holder = next_holder_++;
    slot = MuxSlot{holder, std::move(sink), std::move(evicted)};
    for (auto& [id, record] : records_) {
      if (record->info.role != Role::kGateway) continue;
      // Holders are unique: the evicted stream's tunnels carry its holder.
      if (evicted_holder != 0 && record->stream_holder == evicted_holder) {
        record->stream_holder = 0;
      }
      ClaimForMuxLocked(*record);
    }
  }
  if (evict_previous) evict_previous();
  WakeMuxes();
  return holder;
}

void SessionManager::DetachGatewayMux(uint32_t shard, uint64_t holder) {
  absl::MutexLock lock(&mu_);
  if (shard >= muxes_.size() || muxes_[shard].holder != holder || holder == 0) {
    return;
  }
  MuxSlot& slot = muxes_[shard];
  slot.sink->ReleaseAll();
  for (auto& [id, record] : records_) {
    if (record->stream_holder == holder) record->stream_holder = 0;
  }
  slot = MuxSlot{};
  --muxes_open_;
}

const SessionManager::MuxSlot* SessionManager::MuxHoldingLocked(
    const Record& record) const {
  if (muxes_open_ == 0 || record.stream_holder == 0 ||
      record.info.role != Role::kGateway) {
    return nullptr;
  }
  const MuxSlot& slot = muxes_[MuxShardOf(
      record.info.tunnel_id, static_cast<uint32_t>(muxes_.size()))];
  return slot.holder == record.stream_holder ? &slot : nullptr;
}

void SessionManager::QueueMuxWakeLocked(
    const std::shared_ptr<GatewayMuxSink>& sink) {
  if (mux_wakes_.empty() || mux_wakes_.back() != sink) {
    mux_wakes_.push_back(sink);
  }
}

void SessionManager::ClaimForMuxLocked(Record& record) {
  if (muxes_open_ == 0 || record.info.role != Role::kGateway ||
      record.stream_holder != 0 || record.port == nullptr) {
    return;
  }
  MuxSlot& slot = muxes_[MuxShardOf(record.info.tunnel_id,
                                    static_cast<uint32_t>(muxes_.size()))];
  if (slot.holder == 0) return;
  record.stream_holder = slot.holder;
  slot.sink->Claim(record.info.tunnel_id, record.gateway_remote, record.port);
  QueueMuxWakeLocked(slot.sink);
}

void SessionManager::ReleaseFromMuxLocked(Record& record, bool keep_callback) {
  const MuxSlot* slot = MuxHoldingLocked(record);
  if (slot == nullptr) return;
  slot->sink->Release(record.info.tunnel_id, keep_callback);
  QueueMuxWakeLocked(slot->sink);
  record.stream_holder = 0;
}

void SessionManager::WakeMuxes() {
  std::vector<std::shared_ptr<GatewayMuxSink>> wakes;
  {
    absl::MutexLock lock(&mu_);
    if (mux_wakes_.empty()) return;
    wakes.swap(mux_wakes_);
  }
  for (const auto& sink : wakes) sink->Wake();
}

std::shared_ptr<TunnelPort> SessionManager::GatewayPortAt(
    const core::Endpoint& remote) const {
  absl::ReaderMutexLock lock(&mu_);
  auto id = gateway_ids_.find(remote);
  if (id == gateway_ids_.end()) return nullptr;
  auto it = records_.find(id->second);
  return it == records_.end() ? nullptr : it->second->port;
}

}  // namespace snaptun::service
