// A tunnel's lifecycle, one for both roles: the states it is in, the events
// a change emits, and the transitions between them. The client driver, the
// session records, the snaptun_tunnels gauge and the API all use these
// (ClientState, SessionState and TunnelGaugeState are names for
// TunnelState). Each list is defined once below; its label is the metric
// label value, and upper-cased it is the proto enum value's name
// (TUNNEL_STATE_<LABEL>, TunnelEvent.<LABEL>), which service/api/convert.cc
// looks up by name and api_test checks both ways. Adding a state is one line
// here plus its transitions and their tests.
#ifndef SNAPTUN_SERVICE_TUNNEL_LIFECYCLE_H_
#define SNAPTUN_SERVICE_TUNNEL_LIFECYCLE_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace snaptun::service {

#define SNAPTUN_TUNNEL_STATES(X)                                          \
  /* The first handshake is under way. */                                 \
  X(kConnecting, "connecting")                                            \
  /* A confirmed session exists; packets flow. */                         \
  X(kEstablished, "established")                                          \
  /* The session was lost; the client role handshakes again (backoff). */ \
  X(kReconnecting, "reconnecting")                                        \
  /* Gone; remembered a while for GetTunnel and ListTunnels. */           \
  X(kClosed, "closed")

#define SNAPTUN_TUNNEL_EVENTS(X)                                   \
  X(kOpened, "opened")                                             \
  X(kEstablished, "established")                                   \
  X(kRekeyed, "rekeyed")                                           \
  X(kReconnecting, "reconnecting")                                 \
  X(kAddressChanged, "address_changed")                            \
  X(kClosed, "closed")                                             \
  /* The tunnel's socket keeps failing; the state is unchanged. */ \
  X(kSocketErrors, "socket_errors")

#define SNAPTUN_LIFECYCLE_ENUMERATOR(name, label) name,
enum class TunnelState : uint8_t {
  SNAPTUN_TUNNEL_STATES(SNAPTUN_LIFECYCLE_ENUMERATOR)
};
enum class TunnelEvent : uint8_t {
  SNAPTUN_TUNNEL_EVENTS(SNAPTUN_LIFECYCLE_ENUMERATOR)
};
#undef SNAPTUN_LIFECYCLE_ENUMERATOR

#define SNAPTUN_LIFECYCLE_ONE(name, label) +1
inline constexpr size_t kTunnelStateCount =
    0 SNAPTUN_TUNNEL_STATES(SNAPTUN_LIFECYCLE_ONE);
inline constexpr size_t kTunnelEventCount =
    0 SNAPTUN_TUNNEL_EVENTS(SNAPTUN_LIFECYCLE_ONE);
#undef SNAPTUN_LIFECYCLE_ONE

// "connecting", "established", ...
absl::string_view TunnelStateName(TunnelState state);
// "opened", "address_changed", ...
absl::string_view TunnelEventName(TunnelEvent event);

// A change of state and the event it emits.
struct Transition {
  TunnelState to;
  TunnelEvent event;
};

// A handshake completed: ESTABLISHED from connecting or reconnecting,
// REKEYED when the tunnel already was established.
Transition AfterHandshake(TunnelState from);
// The session was lost (no reply, or handshakes timed out): RECONNECTING.
Transition AfterSessionLost();
Transition AfterClose();
// Whether snaptun_tunnels counts a tunnel in `state` (every state but
// closed: a closed tunnel is no longer held).
constexpr bool Gauged(TunnelState state) {
  return state != TunnelState::kClosed;
}

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_TUNNEL_LIFECYCLE_H_
