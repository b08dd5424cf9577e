// Translation between the session layer and the snaptun.v1 messages, and
// the one place absl::Status becomes grpc::Status.
#ifndef SNAPTUN_SERVICE_API_CONVERT_H_
#define SNAPTUN_SERVICE_API_CONVERT_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "proto/snaptun/v1/snaptun.pb.h"
#include "service/identity_store.h"
#include "service/session.h"

namespace snaptun::service {

// The ErrorInfo.domain of every error this API returns.
inline constexpr char kErrorDomain[] = "snaptun.io";

// The one place a grpc::Status is made: the code and message, and in the
// details a google.rpc.Status with an ErrorInfo (the reason the service
// layer attached, see service/error_reason.h, or the code's name) and, for
// a bad field, a BadRequest naming it.
grpc::Status ToGrpc(const absl::Status& status);
// Finishes a unary callback call with `status` and returns its reactor.
grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context,
                                      const grpc::Status& status);

void ToProto(const TunnelSnapshot& snapshot, v1::Tunnel& out);
void ToProto(const SessionEvent& event, v1::TunnelEvent& out);
void ToProto(const IdentityRecord& record, uint32_t tunnel_count,
             v1::Identity& out);
void ToProto(absl::Time time, google::protobuf::Timestamp& out);
absl::Time FromProto(const google::protobuf::Timestamp& t);
absl::Duration FromProto(const google::protobuf::Duration& d);

v1::CloseCause CauseToProto(CloseCause cause);
// The DropCounters field named as `reason`'s label (a uint64), or null when
// the proto has none: the one mapping from drop reasons to the API, which
// api_test checks covers every reason and every field.
const google::protobuf::FieldDescriptor* DropReasonField(
    core::DropReason reason);
std::optional<Role> RoleFromProto(v1::Role role);
// Lifecycle states and events, mapped by name (tunnel_lifecycle.h).
std::optional<SessionState> StateFromProto(v1::TunnelState state);
v1::TunnelState StateToProto(SessionState state);
v1::TunnelEvent::Type EventToProto(SessionEventType type);

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_API_CONVERT_H_
