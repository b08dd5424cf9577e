// Snapshot → proto, status → status.
#include "service/api/convert.h"

#include <array>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "service/error_reason.h"

namespace snaptun::service {

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  google::rpc::Status details;
  details.set_code(static_cast<int32_t>(status.code()));
  details.set_message(std::string(status.message()));
  google::rpc::ErrorInfo info;
  // A reason set where the error arose, or the code's name.
  info.set_reason(ReasonOf(status).value_or(
      absl::AsciiStrToUpper(absl::StatusCodeToString(status.code()))));
  info.set_domain(kErrorDomain);
  details.add_details()->PackFrom(info);
  if (std::optional<std::string> field = FieldOf(status)) {
    google::rpc::BadRequest bad;
    google::rpc::BadRequest::FieldViolation* violation =
        bad.add_field_violations();
    violation->set_field(*field);
    violation->set_description(std::string(status.message()));
    details.add_details()->PackFrom(bad);
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()),
                      details.SerializeAsString());
}

grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context,
                                      const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

void ToProto(absl::Time time, google::protobuf::Timestamp& out) {
  if (time == absl::InfinitePast() || time == absl::InfiniteFuture()) return;
  const int64_t nanos = absl::ToUnixNanos(time);
  out.set_seconds(nanos / 1000000000);
  out.set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

std::optional<Role> RoleFromProto(v1::Role role) {
  switch (role) {
    case v1::ROLE_CLIENT:
      return Role::kClient;
    case v1::ROLE_GATEWAY:
      return Role::kGateway;
    default:
      return std::nullopt;
  }
}

namespace {

// The proto's value for each lifecycle state and event, found by name
// (tunnel_lifecycle.h): TUNNEL_STATE_<LABEL> and TunnelEvent.<LABEL>.
// api_test checks that every one is found and every proto value is one.
struct LifecycleProto {
  std::array<v1::TunnelState, kTunnelStateCount> states{};
  std::array<v1::TunnelEvent::Type, kTunnelEventCount> events{};

  LifecycleProto() {
    for (size_t i = 0; i < kTunnelStateCount; ++i) {
      states[i] = static_cast<v1::TunnelState>(
          ProtoNumber(*v1::TunnelState_descriptor(), "TUNNEL_STATE_",
                      TunnelStateName(static_cast<TunnelState>(i))));
    }
    for (size_t i = 0; i < kTunnelEventCount; ++i) {
      events[i] = static_cast<v1::TunnelEvent::Type>(
          ProtoNumber(*v1::TunnelEvent::Type_descriptor(), "",
                      TunnelEventName(static_cast<TunnelEvent>(i))));
    }
  }
  static int ProtoNumber(const google::protobuf::EnumDescriptor& type,
                         absl::string_view prefix, absl::string_view label) {
    const google::protobuf::EnumValueDescriptor* value = type.FindValueByName(
        absl::StrCat(prefix, absl::AsciiStrToUpper(label)));
    return value == nullptr ? 0 : value->number();
  }
};

const LifecycleProto& Lifecycle() {
  static const LifecycleProto* const lifecycle = new LifecycleProto();
  return *lifecycle;
}

}  // namespace

std::optional<SessionState> StateFromProto(v1::TunnelState state) {
  const auto& states = Lifecycle().states;
  for (size_t i = 0; i < states.size(); ++i) {
    if (states[i] == state && state != v1::TUNNEL_STATE_UNSPECIFIED) {
      return static_cast<SessionState>(i);
    }
  }
  return std::nullopt;
}

v1::TunnelState StateToProto(SessionState state) {
  const auto i = static_cast<size_t>(state);
  return i < kTunnelStateCount ? Lifecycle().states[i]
                               : v1::TUNNEL_STATE_UNSPECIFIED;
}

v1::TunnelEvent::Type EventToProto(SessionEventType type) {
  const auto i = static_cast<size_t>(type);
  return i < kTunnelEventCount ? Lifecycle().events[i]
                               : v1::TunnelEvent::TYPE_UNSPECIFIED;
}

namespace {

// DropCounters has one field per drop reason, named as the reason's label
// (DropReasonField checks that the lists agree).
void SetDropCounters(const CountersSnapshot& c, v1::DropCounters& out) {
  const google::protobuf::Reflection& reflection = *out.GetReflection();
  for (size_t i = 1; i < core::kDropReasonCount; ++i) {
    const auto reason = static_cast<core::DropReason>(i);
    const google::protobuf::FieldDescriptor* field = DropReasonField(reason);
    if (field != nullptr && c.drops[i] != 0) {
      reflection.SetUInt64(&out, field, c.drops[i]);
    }
  }
}

}  // namespace

const google::protobuf::FieldDescriptor* DropReasonField(
    core::DropReason reason) {
  const google::protobuf::FieldDescriptor* field =
      v1::DropCounters::descriptor()->FindFieldByName(
          std::string(core::DropReasonName(reason)));
  if (field == nullptr ||
      field->type() != google::protobuf::FieldDescriptor::TYPE_UINT64) {
    return nullptr;
  }
  return field;
}

v1::CloseCause CauseToProto(CloseCause cause) {
  switch (cause) {
    case CloseCause::kNone:
      return v1::CLOSE_CAUSE_UNSPECIFIED;
    case CloseCause::kApi:
      return v1::CLOSE_CAUSE_API;
    case CloseCause::kHandshakeTimeout:
      return v1::CLOSE_CAUSE_HANDSHAKE_TIMEOUT;
    case CloseCause::kRevoked:
      return v1::CLOSE_CAUSE_REVOKED;
    case CloseCause::kGaveUp:
      return v1::CLOSE_CAUSE_GAVE_UP;
    case CloseCause::kDrain:
      return v1::CLOSE_CAUSE_DRAIN;
    case CloseCause::kExpired:
      return v1::CLOSE_CAUSE_EXPIRED;
    case CloseCause::kReplaced:
      return v1::CLOSE_CAUSE_REPLACED;
  }
  return v1::CLOSE_CAUSE_UNSPECIFIED;
}

void ToProto(const TunnelSnapshot& s, v1::Tunnel& out) {
  out.set_tunnel_id(s.tunnel_id);
  out.set_role(s.role == Role::kClient ? v1::ROLE_CLIENT : v1::ROLE_GATEWAY);
  out.set_state(StateToProto(s.state));
  out.set_mode(s.mode == core::Mode::kSnap ? v1::MODE_SNAP
                                           : v1::MODE_WIREGUARD);
  out.set_peer_public_key(s.peer_public_key.data(), s.peer_public_key.size());
  out.set_remote_address(s.remote_address);
  out.set_local_address(s.local_address);
  ToProto(s.created_at, *out.mutable_created_at());
  if (s.last_handshake_at != absl::InfinitePast()) {
    ToProto(s.last_handshake_at, *out.mutable_last_handshake_at());
  }
  for (const auto& [k, v] : s.labels) (*out.mutable_labels())[k] = v;
  v1::TunnelCounters& c = *out.mutable_counters();
  c.set_tx_packets(s.counters.tx_packets);
  c.set_tx_bytes(s.counters.tx_bytes);
  c.set_rx_packets(s.counters.rx_packets);
  c.set_rx_bytes(s.counters.rx_bytes);
  c.set_handshakes(s.counters.handshakes);
  c.set_reconnects(s.counters.reconnects);
  SetDropCounters(s.counters, *c.mutable_drops());
  out.set_close_reason(s.close_reason);
  out.set_close_cause(CauseToProto(s.close_cause));
  out.set_control_plane_url(s.control_plane_url);
}

void ToProto(const SessionEvent& event, v1::TunnelEvent& out) {
  out.set_type(EventToProto(event.type));
  out.set_tunnel_id(event.tunnel->tunnel_id);
  ToProto(event.time, *out.mutable_time());
  ToProto(*event.tunnel, *out.mutable_tunnel());
  out.set_reason(event.reason);
}

void ToProto(const IdentityRecord& record, uint32_t tunnel_count,
             v1::Identity& out) {
  out.set_public_key(record.public_key.data(), record.public_key.size());
  if (record.expires_at != absl::InfiniteFuture()) {
    ToProto(record.expires_at, *out.mutable_expires_at());
  }
  ToProto(record.authorized_at, *out.mutable_authorized_at());
  for (const auto& [k, v] : record.labels) (*out.mutable_labels())[k] = v;
  out.set_tunnel_count(tunnel_count);
}

}  // namespace snaptun::service
