// What the session layer says about a tunnel and its changes: the plain
// values the API returns (a snapshot, taken under the manager's lock) and
// the events WatchTunnels streams. No gRPC types here; the service layer
// translates.
#ifndef SNAPTUN_SERVICE_SESSION_H_
#define SNAPTUN_SERVICE_SESSION_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "service/role.h"
#include "service/tunnel_lifecycle.h"
#include "service/tunnel_port.h"
#include "tunnel/core/endpoint.h"
#include "tunnel/core/messages.h"
#include "tunnel/core/verdict.h"
#include "tunnel/crypto/secret.h"

namespace snaptun::service {

// A session's state and the events WatchTunnels streams: the tunnel
// lifecycle's (tunnel_lifecycle.h).
using SessionState = TunnelState;
using SessionEventType = TunnelEvent;

// Why a tunnel closed (the proto's CloseCause).
enum class CloseCause : uint8_t {
  kNone,
  kApi,               // CloseTunnel.
  kHandshakeTimeout,  // The first handshake did not complete in time.
  kRevoked,           // The identity was revoked or its grant expired.
  kGaveUp,            // Reconnecting gave up, or the open failed otherwise.
  kDrain,             // The daemon shut down.
  kExpired,           // No session remained (gateway role).
  kReplaced,          // Another identity confirmed a session at the address.
};

struct TunnelSnapshot {
  std::string tunnel_id;
  Role role = Role::kClient;
  SessionState state = SessionState::kConnecting;
  core::Mode mode = core::Mode::kSnap;
  crypto::PublicKey peer_public_key{};
  std::string remote_address;
  std::string local_address;
  absl::Time created_at = absl::InfinitePast();
  absl::Time last_handshake_at = absl::InfinitePast();
  std::map<std::string, std::string> labels;
  CountersSnapshot counters;
  std::string close_reason;
  CloseCause close_cause = CloseCause::kNone;
  std::string control_plane_url;
};

struct SessionEvent {
  SessionEventType type;
  absl::Time time;
  // One snapshot per change, shared by every watcher that gets the event.
  std::shared_ptr<const TunnelSnapshot> tunnel;
  std::string reason;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_SESSION_H_
