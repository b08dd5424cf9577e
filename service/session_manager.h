// The session manager: every tunnel of the process, client and gateway
// role, by tunnel id. It owns ids, labels, limits and lifecycle, turns data
// plane happenings into the events WatchTunnels streams, and hands a
// tunnel's port to at most one packet stream at a time. Results are
// absl::Status with messages a person can act on; the gRPC layer maps them
// to status codes in one place.
#ifndef SNAPTUN_SERVICE_SESSION_MANAGER_H_
#define SNAPTUN_SERVICE_SESSION_MANAGER_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "service/client_tunnel.h"
#include "service/closed_tunnels.h"
#include "service/control_plane/registrar.h"
#include "service/event_subscription.h"
#include "service/gateway.h"
#include "service/gateway_mux.h"
#include "service/identity_store.h"
#include "service/session.h"
#include "service/worker.h"
#include "tunnel/io/datagram_channel.h"
#include "tunnel/io/udp_socket.h"

namespace snaptun::service {

struct OpenParams {
  std::string tunnel_id;  // Empty: the manager picks one.
  crypto::PublicKey peer_public_key{};
  core::Endpoint data_plane;
  core::Mode mode = core::Mode::kSnap;
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration persistent_keepalive = absl::Seconds(10);
  size_t receive_queue_capacity = 1024;
  std::map<std::string, std::string> labels;
  std::string control_plane_url;
  // Learn the peer key and data-plane address from the control plane.
  bool discover = false;

  // Same tunnel asked for again (idempotent open)?
  bool SameAs(const OpenParams& other) const;
};

struct SessionLimits {
  size_t max_tunnels = 100000;
  size_t max_tunnels_per_identity = 1024;
  // Shared with the gateway's tables: bounds both roles together.
  // Optional; outlives the manager.
  core::TunnelQuota* quota = nullptr;
  // Client tunnels each hold a socket: at most this many, so the process
  // keeps file descriptors for its API and metrics (set from
  // RLIMIT_NOFILE).
  size_t max_client_tunnels = SIZE_MAX;
  // What every client tunnel shares: its port limits (the receive packet
  // limit comes from each open), socket options, network (tests pass a
  // MemoryNetwork; the gateway's is GatewayConfig::network) and keepalive
  // probes. Its metrics are the manager's.
  ClientRoleConfig client;
  // Closed tunnels remembered for GetTunnel/ListTunnels/CloseTunnel.
  size_t closed_max = 1000;
  absl::Duration closed_retention = absl::Minutes(5);
  // WatchTunnels streams at once, and what each may hold queued.
  size_t max_watchers = 256;
  SubscriptionLimits watcher;
};

struct ListFilter {
  std::optional<Role> role;
  std::optional<SessionState> state;
  std::map<std::string, std::string> labels;
};

struct ListPage {
  std::vector<TunnelSnapshot> tunnels;
  std::string next_page_token;
};

class SessionManager final : public GatewayObserver {
 public:
  using OpenCallback = std::function<void(absl::StatusOr<TunnelSnapshot>)>;

  SessionManager(WorkerPool& pool, const core::LocalIdentity& identity,
                 const SessionLimits& limits, DataPlaneMetrics* metrics);
  ~SessionManager() override;

  // The gateway role, once started (both optional, both outlive this).
  void AttachGateway(Gateway* gateway, IdentityStore* identities);
  // The SNAP control-plane client (optional, outlives this).
  void AttachRegistrar(Registrar* registrar) { registrar_ = registrar; }
  const core::LocalIdentity& identity() const { return identity_; }
  // The time every session timestamp, grant and retention is measured on:
  // the workers' clock (a fake one in tests).
  absl::Time Now() const { return pool_.clock().Now(); }

  // The gateway role (session_manager_gateway.cc): what GatewayService
  // does, so the API needs nothing below this facade. Each call but
  // gateway_role() is FAILED_PRECONDITION (GATEWAY_ROLE_OFF) when the role
  // is off.
  bool gateway_role() const;
  absl::Status GatewayRoleOn() const;
  // Grants `key` until `expires` (IdentityStore::TryGrant).
  absl::StatusOr<IdentityRecord> GrantIdentity(
      const crypto::PublicKey& key, absl::Time now, absl::Time expires,
      std::map<std::string, std::string> labels = {});
  // Revokes `key` and closes its tunnels on the workers; `done` runs once,
  // on a worker, with the number closed, or NOT_FOUND
  // (IDENTITY_NOT_AUTHORIZED) when the key had neither grant nor tunnel.
  void RevokeIdentity(const crypto::PublicKey& key,
                      std::function<void(absl::StatusOr<size_t>)> done);
  std::vector<IdentityRecord> ListIdentities(absl::Time now) const;
  struct GatewayInfo {
    core::Endpoint listen_address;
    size_t tunnels = 0;
    size_t identities = 0;
  };
  absl::StatusOr<GatewayInfo> gateway_info() const;

  // Client role. `done` runs exactly once, possibly on a worker thread,
  // when the handshake completed or failed.
  void Open(OpenParams params, OpenCallback done);
  // Closes a live tunnel; closing one already closed (and remembered)
  // returns it as it closed. NOT_FOUND otherwise.
  absl::StatusOr<TunnelSnapshot> Close(const std::string& tunnel_id,
                                       const std::string& reason,
                                       CloseCause cause = CloseCause::kApi);
  absl::StatusOr<TunnelSnapshot> Get(const std::string& tunnel_id) const;
  absl::StatusOr<ListPage> List(const ListFilter& filter, size_t page_size,
                                const std::string& page_token) const;

  // One packet stream per tunnel. With `takeover`, a stream already
  // attached is told through its `evicted` callback (called outside the
  // manager's lock) and loses the slot; without, the attach fails with
  // FAILED_PRECONDITION.
  struct StreamAttachment {
    std::shared_ptr<TunnelPort> port;
    uint64_t holder = 0;  // Names this attachment for DetachStream.
  };
  absl::StatusOr<StreamAttachment> AttachStream(
      const std::string& tunnel_id, bool takeover = false,
      std::function<void()> evicted = nullptr);
  // Frees the slot if `holder` still holds it (not after a takeover or on a
  // tunnel re-created under the same id).
  void DetachStream(const std::string& tunnel_id, uint64_t holder);

  // StreamGatewayPackets: from now on `sink` carries every gateway tunnel
  // of shard `shard` of `shard_count` (MuxShardOf) that no per-tunnel stream
  // holds, including tunnels accepted later. Every open multiplexed stream
  // must use the same shard_count (FAILED_PRECONDITION otherwise). A shard
  // already carried fails with FAILED_PRECONDITION, or with `takeover` is
  // taken from the stream carrying it, which is told through its
  // `evicted`. Returns the holder that names this attachment.
  absl::StatusOr<uint64_t> AttachGatewayMux(
      uint32_t shard, uint32_t shard_count, bool takeover,
      std::shared_ptr<GatewayMuxSink> sink, std::function<void()> evicted);
  // The stream ends: its tunnels are free for per-tunnel streams.
  void DetachGatewayMux(uint32_t shard, uint64_t holder);
  // The port of the gateway tunnel whose remote address is `remote`, or
  // null (dispatch by destination).
  std::shared_ptr<TunnelPort> GatewayPortAt(const core::Endpoint& remote) const;

  // Events of matching tunnels from now on (and OPENED for the existing
  // ones with `include_existing`, produced one at a time by NextEvent).
  // RESOURCE_EXHAUSTED beyond `max_watchers` subscriptions.
  absl::StatusOr<std::shared_ptr<EventSubscription>> Subscribe(
      const std::string& tunnel_id, std::map<std::string, std::string> labels,
      bool include_existing);
  // The subscription's next event: the next existing tunnel while it
  // replays them (in tunnel id order, from a cursor), then what was queued.
  // Called by the one stream that reads the subscription.
  std::optional<SessionEvent> NextEvent(EventSubscription& subscription);
  size_t watchers() const;
  // What the tunnels of each role hold against their limits, counted in one
  // pass (for the saturation metrics): packet streams attached now, and the
  // tunnels of the peer key that holds the most (the client role's limit
  // is per gateway key, the gateway role's per client identity).
  struct RoleOccupancy {
    size_t streams = 0;
    size_t busiest_peer = 0;
  };
  struct Occupancy {
    RoleOccupancy client;
    RoleOccupancy gateway;
  };
  Occupancy occupancy() const;
  void Unsubscribe(const std::shared_ptr<EventSubscription>& subscription);
  // Drain: every WatchTunnels stream ends (UNAVAILABLE, SHUTTING_DOWN) after
  // writing the events queued for it, and no new one is accepted.
  void EndWatchers();

  // Gateway tunnels per client identity, counted in one pass.
  absl::flat_hash_map<crypto::PublicKey, uint32_t> GatewayTunnelCounts() const;
  // Gateway tunnels of one client identity.
  uint32_t GatewayTunnelsOf(const crypto::PublicKey& identity) const;

  // Closes every tunnel (drain on SIGTERM; cause kDrain).
  void CloseAll(const std::string& reason);
  size_t size() const;

  // GatewayObserver (worker threads).
  void OnTunnelAccepted(const GatewayTunnelInfo& info,
                        std::shared_ptr<TunnelPort> port) override;
  void OnTunnelChanged(const GatewayTunnelInfo& info,
                       const Transition& change) override;
  void OnTunnelRemoved(const GatewayTunnelInfo& info,
                       core::RemovalReason reason) override;

 private:
  struct Record {
    TunnelSnapshot info;  // Counters are filled from the port on read.
    OpenParams params;    // Client role.
    std::shared_ptr<TunnelPort> port;
    std::shared_ptr<ClientTunnel> client;
    core::Endpoint gateway_remote;  // Gateway role.
    // 0: no stream attached. Holders are unique, per-tunnel streams' and
    // multiplexed streams' alike (MuxHoldingLocked tells them apart).
    uint64_t stream_holder = 0;
    std::function<void()> stream_evicted;
    bool holds_quota = false;    // A client tunnel's slot of limits_.quota.
    std::string registered_url;  // Holds a registration there.
    core::Endpoint data_plane;   // Given, or discovered.
    std::vector<OpenCallback> waiting;  // Opens of a connecting tunnel.
  };
  // One shard of the multiplexed gateway streams.
  struct MuxSlot {
    uint64_t holder = 0;  // 0: no stream carries this shard.
    std::shared_ptr<GatewayMuxSink> sink;
    std::function<void()> evicted;
  };
  using Delivery =
      std::vector<std::pair<std::shared_ptr<EventSubscription>, SessionEvent>>;

  void OnClientEvent(const std::string& id, const ClientEvent& event);
  // Open's steps (session_manager_open.cc). An open of an existing id:
  // its answer, or nothing when `done` now waits for the handshake.
  std::optional<absl::StatusOr<TunnelSnapshot>> JoinLocked(
      Record& existing, const OpenParams& params, OpenCallback& done)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The limits a new client tunnel must fit; takes its quota slot.
  absl::Status AdmitClientLocked(const OpenParams& params)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Names the tunnel when unnamed, and publishes OPENED.
  void AddClientLocked(OpenParams& params, OpenCallback done,
                       Delivery& deliveries) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RegisterThenStart(const OpenParams& params);
  void OnRegistered(const std::string& id,
                    absl::StatusOr<Registration> registration);
  // After registration (and discovery): start the data plane.
  void StartClient(const std::string& id);
  // Ends an open that failed before the data plane started.
  void FailOpen(const std::string& id, const absl::Status& status);
  void ReleaseLocked(Record& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  using RecordMap = std::map<std::string, std::shared_ptr<Record>>;
  // Removes a record, giving back its quota slot and remembering it as
  // closed.
  void EraseLocked(RecordMap::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnConnected(const std::string& id,
                   absl::StatusOr<core::Endpoint> result);
  TunnelSnapshot SnapshotLocked(const Record& record) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  ListPage ListClosedLocked(const ListFilter& filter, size_t page_size,
                            const std::string& page_token) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void PublishLocked(SessionEventType type, const Record& record,
                     const std::string& reason, Delivery& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void Deliver(Delivery& deliveries);
  // Tunnels of `role` whose peer is `peer`.
  size_t CountForLocked(Role role, const crypto::PublicKey& peer) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // The multiplexed stream holding this gateway tunnel, or null.
  const MuxSlot* MuxHoldingLocked(const Record& record) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // `sink` is woken by the next WakeMuxes.
  void QueueMuxWakeLocked(const std::shared_ptr<GatewayMuxSink>& sink)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands a free gateway tunnel to the multiplexed stream of its shard, if
  // one is open.
  void ClaimForMuxLocked(Record& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes a gateway tunnel from the multiplexed stream holding it, if any.
  void ReleaseFromMuxLocked(Record& record, bool keep_callback)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Wakes the multiplexed streams whose tunnels changed, once the lock is
  // released (a wake may build and write a batch).
  void WakeMuxes() ABSL_LOCKS_EXCLUDED(mu_);

  WorkerPool& pool_;
  const core::LocalIdentity& identity_;
  const SessionLimits limits_;
  DataPlaneMetrics* const metrics_;
  // limits_.client with the metrics: one object every client tunnel holds.
  const std::shared_ptr<const ClientRoleConfig> client_role_;
  Gateway* gateway_ = nullptr;
  IdentityStore* identities_ = nullptr;
  Registrar* registrar_ = nullptr;

  mutable absl::Mutex mu_;
  RecordMap records_ ABSL_GUARDED_BY(mu_);
  ClosedTunnels closed_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<core::Endpoint, std::string> gateway_ids_
      ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<EventSubscription>> subscriptions_
      ABSL_GUARDED_BY(mu_);
  // Indexed by shard; sized by the shard_count of the open streams.
  std::vector<MuxSlot> muxes_ ABSL_GUARDED_BY(mu_);
  size_t muxes_open_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::shared_ptr<GatewayMuxSink>> mux_wakes_ ABSL_GUARDED_BY(mu_);
  bool watchers_ended_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_holder_ ABSL_GUARDED_BY(mu_) = 1;
  size_t client_tunnels_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_SESSION_MANAGER_H_
