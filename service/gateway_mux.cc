// GatewayMuxSink: claimed tunnels, their handles and the ready list.
#include "service/gateway_mux.h"

#include <utility>

namespace snaptun::service {

uint32_t MuxShardOf(absl::string_view tunnel_id, uint32_t count) {
  uint64_t hash = 14695981039346656037ull;
  for (const char c : tunnel_id) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 1099511628211ull;
  }
  return count == 0 ? 0 : static_cast<uint32_t>(hash % count);
}

void MuxBatch::Clear() {
  announced.clear();
  released.clear();
  handles.clear();
  packets.clear();
  bytes = 0;
  dropped = 0;
}

GatewayMuxSink::GatewayMuxSink(std::function<void()> wake, size_t max_released)
    : wake_(std::move(wake)), max_released_(max_released) {}

GatewayMuxSink::~GatewayMuxSink() = default;

void GatewayMuxSink::Claim(const std::string& tunnel_id,
                           const core::Endpoint& remote,
                           std::shared_ptr<TunnelPort> port) {
  absl::MutexLock lock(&mu_);
  if (by_id_.contains(tunnel_id) || exhausted_) return;
  const uint32_t handle = next_handle_++;
  if (next_handle_ == 0) exhausted_ = true;
  Entry& entry = entries_[handle];
  entry.tunnel = MuxTunnel{handle, tunnel_id, remote};
  entry.port = port;
  // Drops before the claim were reported by whoever carried it then.
  entry.dropped_reported =
      port->counters().dropped(core::DropReason::kReceiveQueueFull);
  by_id_[tunnel_id] = handle;
  by_remote_[remote] = handle;
  std::weak_ptr<GatewayMuxSink> weak = weak_from_this();
  port->SetReceiveReady([weak, handle] {
    if (auto sink = weak.lock()) sink->MarkReady(handle);
  });
  // Payloads queued before the claim raise no edge of their own.
  if (port->receive_queued() > 0) MarkReadyLocked(handle);
}

void GatewayMuxSink::Release(const std::string& tunnel_id, bool keep_callback) {
  absl::MutexLock lock(&mu_);
  auto id = by_id_.find(tunnel_id);
  if (id == by_id_.end()) return;
  auto it = entries_.find(id->second);
  Entry& entry = it->second;
  if (entry.announced) {
    if (released_.size() < max_released_) {
      released_.push_back(it->first);
    } else {
      ++released_forgotten_;
    }
  }
  dropped_pending_ += NewDrops(entry);
  if (!keep_callback) entry.port->SetReceiveReady(nullptr);
  if (auto r = by_remote_.find(entry.tunnel.remote);
      r != by_remote_.end() && r->second == it->first) {
    by_remote_.erase(r);
  }
  if (entry.ready) ++stale_ready_;
  entries_.erase(it);
  by_id_.erase(id);
  CompactReady();
}

void GatewayMuxSink::ReleaseAll() {
  absl::MutexLock lock(&mu_);
  for (auto& [handle, entry] : entries_) entry.port->SetReceiveReady(nullptr);
  entries_.clear();
  by_id_.clear();
  by_remote_.clear();
  ready_.clear();
  stale_ready_ = 0;
}

void GatewayMuxSink::CompactReady() {
  if (stale_ready_ < 64 || stale_ready_ * 2 < ready_.size()) return;
  std::deque<uint32_t> live;
  for (uint32_t handle : ready_) {
    if (entries_.contains(handle)) live.push_back(handle);
  }
  ready_.swap(live);
  stale_ready_ = 0;
}

bool GatewayMuxSink::MarkReadyLocked(uint32_t handle) {
  auto it = entries_.find(handle);
  if (it == entries_.end() || it->second.ready) return false;
  it->second.ready = true;
  ready_.push_back(handle);
  return true;
}

void GatewayMuxSink::MarkReady(uint32_t handle) {
  {
    absl::MutexLock lock(&mu_);
    MarkReadyLocked(handle);
  }
  // Always: an edge means new payloads, even when the tunnel was already
  // listed (a writer may have found it empty just before).
  wake_();
}

uint64_t GatewayMuxSink::NewDrops(Entry& entry) {
  const uint64_t dropped =
      entry.port->counters().dropped(core::DropReason::kReceiveQueueFull);
  const uint64_t fresh = dropped - entry.dropped_reported;
  entry.dropped_reported = dropped;
  return fresh;
}

bool GatewayMuxSink::TakeFrom(Entry& entry, size_t max_packets,
                              size_t max_bytes, MuxBatch& out) {
  const size_t before = out.packets.size();
  // The flag drops first: a payload delivered after the take raises a new
  // edge, one delivered before it is taken here.
  entry.ready = false;
  entry.port->Receive(out.packets, max_packets - before, absl::ZeroDuration(),
                      max_bytes - out.bytes);
  if (out.packets.size() > before && !entry.announced) {
    entry.announced = true;
    out.announced.push_back(entry.tunnel);
  }
  for (size_t i = before; i < out.packets.size(); ++i) {
    out.bytes += out.packets[i].size();
    out.handles.push_back(entry.tunnel.handle);
  }
  out.dropped += NewDrops(entry);
  if (entry.port->receive_queued() > 0) {
    // Over budget, or more arrived meanwhile: its next turn comes after
    // the others'.
    entry.ready = true;
    ready_.push_back(entry.tunnel.handle);
  }
  return out.packets.size() < max_packets && out.bytes < max_bytes;
}

void GatewayMuxSink::TakeBatch(size_t max_packets, size_t max_bytes,
                               MuxBatch& out) {
  out.Clear();
  absl::MutexLock lock(&mu_);
  out.released.swap(released_);
  out.dropped = dropped_pending_;
  dropped_pending_ = 0;
  // Each tunnel ready now gets one turn per batch.
  for (size_t turns = ready_.size(); turns > 0 && !ready_.empty(); --turns) {
    const uint32_t handle = ready_.front();
    ready_.pop_front();
    auto it = entries_.find(handle);
    if (it == entries_.end()) {
      if (stale_ready_ > 0) --stale_ready_;
      continue;
    }
    if (!TakeFrom(it->second, max_packets, max_bytes, out)) break;
  }
}

std::shared_ptr<TunnelPort> GatewayMuxSink::PortOf(uint32_t handle) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(handle);
  return it == entries_.end() ? nullptr : it->second.port;
}

std::shared_ptr<TunnelPort> GatewayMuxSink::PortAt(
    const core::Endpoint& remote) const {
  absl::MutexLock lock(&mu_);
  auto it = by_remote_.find(remote);
  return it == by_remote_.end() ? nullptr : entries_.at(it->second).port;
}

bool GatewayMuxSink::exhausted() const {
  absl::MutexLock lock(&mu_);
  return exhausted_;
}

size_t GatewayMuxSink::tunnels() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

uint64_t GatewayMuxSink::released_forgotten() const {
  absl::MutexLock lock(&mu_);
  return released_forgotten_;
}

}  // namespace snaptun::service
