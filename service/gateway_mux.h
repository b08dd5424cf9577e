// One multiplexed gateway packet stream's share of the gateway tunnels
// (StreamGatewayPackets), seen from the data plane: the tunnels it carries,
// each under a small handle the stream announces once, and the order in which
// their receive queues became non-empty.
//
// The session manager claims a tunnel for a sink when the tunnel's shard
// (MuxShardOf) is the sink's and no per-tunnel stream holds it, and releases
// it when the tunnel closes or a per-tunnel stream takes it over. Workers
// mark a tunnel ready when its receive queue goes from empty to non-empty;
// the stream's writer takes batches from the ready tunnels in turn, so one
// busy tunnel cannot starve the others. Handles are never reused within a
// stream, so a packet written to a released handle is a counted drop, not a
// packet for another tunnel.
//
// Thread safety: every method may be called from any thread. The sink calls
// nothing outside itself while holding its lock except TunnelPort methods,
// so the session manager may call Claim and Release under its own lock.
#ifndef SNAPTUN_SERVICE_GATEWAY_MUX_H_
#define SNAPTUN_SERVICE_GATEWAY_MUX_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "service/tunnel_port.h"
#include "tunnel/core/endpoint.h"

namespace snaptun::service {

// The most multiplexed streams that may share the gateway's tunnels.
inline constexpr uint32_t kMaxMuxShards = 256;

// Which of `count` shards tunnel `tunnel_id` belongs to: FNV-1a (64 bit) of
// the id's bytes, modulo `count`. Stable for the tunnel's life, and
// documented so callers can compute it.
uint32_t MuxShardOf(absl::string_view tunnel_id, uint32_t count);

struct MuxTunnel {
  uint32_t handle = 0;
  std::string tunnel_id;
  core::Endpoint remote;
};

// What one written batch carries, filled by GatewayMuxSink::TakeBatch.
struct MuxBatch {
  std::vector<MuxTunnel> announced;
  std::vector<uint32_t> released;
  std::vector<uint32_t> handles;  // One per packet.
  std::vector<Packet> packets;
  size_t bytes = 0;
  // receive_queue_full drops of the drained tunnels since their last batch.
  uint64_t dropped = 0;
  bool empty() const {
    return packets.empty() && announced.empty() && released.empty();
  }
  void Clear();
};

class GatewayMuxSink : public std::enable_shared_from_this<GatewayMuxSink> {
 public:
  // `wake` is called (from any thread, without the sink's lock) when a
  // batch may be ready. Released handles remembered for the next batch are
  // capped at `max_released`; beyond it they are forgotten (counted).
  explicit GatewayMuxSink(std::function<void()> wake,
                          size_t max_released = 65536);
  ~GatewayMuxSink();

  // The session manager's side, under its lock: neither wakes the stream
  // (the manager calls Wake once its lock is released).
  void Claim(const std::string& tunnel_id, const core::Endpoint& remote,
             std::shared_ptr<TunnelPort> port);
  // `keep_callback`: another carrier now owns the port's receive callback.
  void Release(const std::string& tunnel_id, bool keep_callback);
  // The stream ends: every port still carried forgets the sink's callback.
  void ReleaseAll();
  void Wake() { wake_(); }

  // The stream's side. Takes up to `max_packets` payloads and `max_bytes`
  // bytes (at least one payload if any is ready) from the ready tunnels.
  void TakeBatch(size_t max_packets, size_t max_bytes, MuxBatch& out);
  std::shared_ptr<TunnelPort> PortOf(uint32_t handle) const;
  std::shared_ptr<TunnelPort> PortAt(const core::Endpoint& remote) const;
  size_t tunnels() const;
  // Handles ran out (2^32 - 1 claims): the stream must end; tunnels claimed
  // since are not carried.
  bool exhausted() const;
  uint64_t released_forgotten() const;

 private:
  struct Entry {
    MuxTunnel tunnel;
    std::shared_ptr<TunnelPort> port;
    bool ready = false;
    bool announced = false;
    uint64_t dropped_reported = 0;
  };
  // A worker saw the tunnel's receive queue become non-empty.
  void MarkReady(uint32_t handle);
  bool MarkReadyLocked(uint32_t handle) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves what one ready tunnel holds into `out`; false once the batch is
  // full.
  bool TakeFrom(Entry& entry, size_t max_packets, size_t max_bytes,
                MuxBatch& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // receive_queue_full drops of `entry` not yet reported.
  uint64_t NewDrops(Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops handles of released tunnels from the ready list once they are
  // half of it.
  void CompactReady() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::function<void()> wake_;
  const size_t max_released_;
  mutable absl::Mutex mu_;
  uint32_t next_handle_ ABSL_GUARDED_BY(mu_) = 1;
  bool exhausted_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<uint32_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint32_t> by_id_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<core::Endpoint, uint32_t> by_remote_ ABSL_GUARDED_BY(mu_);
  // Each carried tunnel at most once; released ones until compacted.
  std::deque<uint32_t> ready_ ABSL_GUARDED_BY(mu_);
  size_t stale_ready_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<uint32_t> released_ ABSL_GUARDED_BY(mu_);
  uint64_t released_forgotten_ ABSL_GUARDED_BY(mu_) = 0;
  // Drops of released tunnels, for the next batch.
  uint64_t dropped_pending_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_GATEWAY_MUX_H_
