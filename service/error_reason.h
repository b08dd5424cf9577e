// Machine-readable error reasons. AIP-193 asks every API error to carry an
// ErrorInfo whose `reason` a program can switch on; the reason is decided
// where the error arises, deep in the service layer, and travels up on the
// absl::Status as a payload until the API layer (service/api/convert.cc)
// turns it into google.rpc.ErrorInfo (and, for a bad field, BadRequest).
// The reasons are listed here once; docs/API.md lists which RPC returns
// which.
#ifndef SNAPTUN_SERVICE_ERROR_REASON_H_
#define SNAPTUN_SERVICE_ERROR_REASON_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace snaptun::service {

namespace reason {
inline constexpr char kMaxTunnels[] = "MAX_TUNNELS";
inline constexpr char kMaxTunnelsPerIdentity[] = "MAX_TUNNELS_PER_IDENTITY";
inline constexpr char kFileDescriptors[] = "FILE_DESCRIPTORS_EXHAUSTED";
inline constexpr char kHandshakeTimeout[] = "HANDSHAKE_TIMEOUT";
inline constexpr char kIdentityNotAuthorized[] = "IDENTITY_NOT_AUTHORIZED";
inline constexpr char kMaxIdentities[] = "MAX_IDENTITIES";
inline constexpr char kStreamAlreadyAttached[] = "STREAM_ALREADY_ATTACHED";
inline constexpr char kStreamTakenOver[] = "STREAM_TAKEN_OVER";
inline constexpr char kTunnelNotFound[] = "TUNNEL_NOT_FOUND";
inline constexpr char kTunnelExists[] = "TUNNEL_ALREADY_EXISTS";
inline constexpr char kTunnelNotReady[] = "TUNNEL_NOT_READY";
inline constexpr char kTunnelClosed[] = "TUNNEL_CLOSED";
inline constexpr char kInvalidPeerKey[] = "INVALID_PEER_KEY";
inline constexpr char kInvalidAddress[] = "INVALID_ADDRESS";
inline constexpr char kInvalidField[] = "INVALID_FIELD";
inline constexpr char kGatewayRoleOff[] = "GATEWAY_ROLE_OFF";
inline constexpr char kNoSnapToken[] = "SNAP_TOKEN_NOT_CONFIGURED";
inline constexpr char kControlPlaneUnavailable[] = "CONTROL_PLANE_UNAVAILABLE";
inline constexpr char kMaxWatchers[] = "MAX_WATCHERS";
inline constexpr char kWatcherTooSlow[] = "WATCHER_TOO_SLOW";
inline constexpr char kApiTokenMissing[] = "API_TOKEN_MISSING";
inline constexpr char kApiTokenInvalid[] = "API_TOKEN_INVALID";
inline constexpr char kShuttingDown[] = "SHUTTING_DOWN";
}  // namespace reason

// `status` with `reason` attached (replacing any earlier one).
absl::Status WithReason(absl::Status status, absl::string_view reason);
std::optional<std::string> ReasonOf(const absl::Status& status);

// INVALID_ARGUMENT about one field of the request: the reason, and the
// field's name for BadRequest.field_violations.
absl::Status InvalidField(absl::string_view field, absl::string_view message,
                          absl::string_view why = reason::kInvalidField);
std::optional<std::string> FieldOf(const absl::Status& status);

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_ERROR_REASON_H_
