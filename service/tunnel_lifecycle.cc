// Names from the lifecycle lists, and the transitions.
#include "service/tunnel_lifecycle.h"

#include <array>

namespace snaptun::service {
namespace {

#define SNAPTUN_LIFECYCLE_LABEL(name, label) label,
constexpr std::array<absl::string_view, kTunnelStateCount> kStateNames = {
    SNAPTUN_TUNNEL_STATES(SNAPTUN_LIFECYCLE_LABEL)};
constexpr std::array<absl::string_view, kTunnelEventCount> kEventNames = {
    SNAPTUN_TUNNEL_EVENTS(SNAPTUN_LIFECYCLE_LABEL)};
#undef SNAPTUN_LIFECYCLE_LABEL

}  // namespace

absl::string_view TunnelStateName(TunnelState state) {
  const auto i = static_cast<size_t>(state);
  return i < kTunnelStateCount ? kStateNames[i] : "unknown";
}

absl::string_view TunnelEventName(TunnelEvent event) {
  const auto i = static_cast<size_t>(event);
  return i < kTunnelEventCount ? kEventNames[i] : "unknown";
}

Transition AfterHandshake(TunnelState from) {
  return {TunnelState::kEstablished, from == TunnelState::kEstablished
                                         ? TunnelEvent::kRekeyed
                                         : TunnelEvent::kEstablished};
}

Transition AfterSessionLost() {
  return {TunnelState::kReconnecting, TunnelEvent::kReconnecting};
}

Transition AfterClose() { return {TunnelState::kClosed, TunnelEvent::kClosed}; }

}  // namespace snaptun::service
