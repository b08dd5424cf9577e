// TunnelService RPCs.
#include "service/api/tunnel_service.h"

#include "absl/strings/str_cat.h"
#include "service/api/convert.h"
#include "service/api/labels.h"
#include "service/api/stream_reactors.h"
#include "service/control_plane/connect_client.h"
#include "service/error_reason.h"

namespace snaptun::service {
namespace {

constexpr size_t kMaxIdLength = 128;
constexpr size_t kMaxReceiveQueue = 1 << 20;
constexpr absl::Duration kMaxConnectTimeout = absl::Minutes(10);

bool ValidId(const std::string& id) {
  if (id.size() > kMaxIdLength) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
          c == '.')) {
      return false;
    }
  }
  return true;
}

}  // namespace

namespace {

// The peer: its key and data-plane address, or, with a control plane,
// both discovered.
absl::Status ValidatePeer(const v1::OpenTunnelRequest& request,
                          OpenParams& params) {
  const bool no_key = request.peer_public_key().empty();
  const bool no_address = request.data_plane_address().empty();
  if (!params.control_plane_url.empty()) {
    if (absl::StatusOr<std::string> url =
            JoinUrl(params.control_plane_url, "/");
        !url.ok()) {
      return InvalidField("control_plane_url", url.status().message());
    }
    if (no_key != no_address) {
      return InvalidField(
          no_key ? "peer_public_key" : "data_plane_address",
          "with control_plane_url, give both peer_public_key and "
          "data_plane_address, or neither (then they are discovered)");
    }
    params.discover = no_key && no_address;
  }
  if (params.discover) return absl::OkStatus();
  if (request.peer_public_key().size() != 32) {
    return InvalidField("peer_public_key",
                        absl::StrCat("peer_public_key must be 32 bytes, got ",
                                     request.peer_public_key().size()),
                        reason::kInvalidPeerKey);
  }
  std::copy(request.peer_public_key().begin(), request.peer_public_key().end(),
            params.peer_public_key.begin());
  const std::optional<core::Endpoint> address =
      core::Endpoint::Parse(request.data_plane_address());
  if (!address.has_value() || address->port() == 0) {
    return InvalidField("data_plane_address",
                        absl::StrCat("data_plane_address must be \"ip:port\" "
                                     "or \"[ipv6]:port\", got \"",
                                     request.data_plane_address(), "\""),
                        reason::kInvalidAddress);
  }
  params.data_plane = *address;
  return absl::OkStatus();
}

// Mode, timers and the receive queue.
absl::Status ValidateTunnelOptions(const v1::OpenTunnelRequest& request,
                                   OpenParams& params) {
  switch (request.mode()) {
    case v1::MODE_UNSPECIFIED:
    case v1::MODE_SNAP:
      params.mode = core::Mode::kSnap;
      break;
    case v1::MODE_WIREGUARD:
      params.mode = core::Mode::kWireGuard;
      break;
    default:
      return InvalidField("mode",
                          absl::StrCat("unknown mode ", request.mode()));
  }
  if (request.has_connect_timeout()) {
    params.connect_timeout = FromProto(request.connect_timeout());
    if (params.connect_timeout <= absl::ZeroDuration() ||
        params.connect_timeout > kMaxConnectTimeout) {
      return InvalidField(
          "connect_timeout",
          "connect_timeout must be positive and at most 10 minutes");
    }
  }
  if (request.has_persistent_keepalive_seconds()) {
    if (request.persistent_keepalive_seconds() > 65535) {
      return InvalidField("persistent_keepalive_seconds",
                          "persistent_keepalive_seconds must be at most 65535");
    }
    params.persistent_keepalive =
        absl::Seconds(request.persistent_keepalive_seconds());
  }
  if (request.receive_queue_capacity() > kMaxReceiveQueue) {
    return InvalidField("receive_queue_capacity",
                        absl::StrCat("receive_queue_capacity must be at most ",
                                     kMaxReceiveQueue));
  }
  if (request.receive_queue_capacity() > 0) {
    params.receive_queue_capacity = request.receive_queue_capacity();
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<OpenParams> ValidateOpen(const v1::OpenTunnelRequest& request) {
  OpenParams params;
  if (!ValidId(request.tunnel_id())) {
    return InvalidField(
        "tunnel_id",
        "tunnel_id may hold at most 128 letters, digits, '-', '_' or '.'");
  }
  params.tunnel_id = request.tunnel_id();
  params.control_plane_url = request.control_plane_url();
  if (absl::Status s = ValidatePeer(request, params); !s.ok()) return s;
  if (absl::Status s = ValidateTunnelOptions(request, params); !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateLabels(request.labels()); !s.ok()) return s;
  params.labels.insert(request.labels().begin(), request.labels().end());
  return params;
}

grpc::ServerUnaryReactor* TunnelServiceImpl::OpenTunnel(
    grpc::CallbackServerContext* context, const v1::OpenTunnelRequest* request,
    v1::Tunnel* response) {
  if (grpc::Status s = auth_.Check(*context); !s.ok())
    return FinishUnary(context, s);
  absl::StatusOr<OpenParams> params = ValidateOpen(*request);
  if (!params.ok()) return FinishUnary(context, ToGrpc(params.status()));
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  sessions_.Open(std::move(*params),
                 [reactor, response](absl::StatusOr<TunnelSnapshot> result) {
                   if (result.ok()) ToProto(*result, *response);
                   reactor->Finish(ToGrpc(result.status()));
                 });
  return reactor;
}

grpc::ServerUnaryReactor* TunnelServiceImpl::CloseTunnel(
    grpc::CallbackServerContext* context, const v1::CloseTunnelRequest* request,
    v1::CloseTunnelResponse* response) {
  if (grpc::Status s = auth_.Check(*context); !s.ok())
    return FinishUnary(context, s);
  absl::StatusOr<TunnelSnapshot> closed =
      sessions_.Close(request->tunnel_id(), "closed through the API");
  if (closed.ok()) ToProto(*closed, *response->mutable_tunnel());
  // AIP-135: with allow_missing, a tunnel that does not exist is not an
  // error (the response holds no tunnel).
  if (!closed.ok() && request->allow_missing() &&
      closed.status().code() == absl::StatusCode::kNotFound) {
    return FinishUnary(context, grpc::Status::OK);
  }
  return FinishUnary(context, ToGrpc(closed.status()));
}

grpc::ServerUnaryReactor* TunnelServiceImpl::GetTunnel(
    grpc::CallbackServerContext* context, const v1::GetTunnelRequest* request,
    v1::Tunnel* response) {
  if (grpc::Status s = auth_.Check(*context); !s.ok())
    return FinishUnary(context, s);
  absl::StatusOr<TunnelSnapshot> tunnel = sessions_.Get(request->tunnel_id());
  if (tunnel.ok()) ToProto(*tunnel, *response);
  return FinishUnary(context, ToGrpc(tunnel.status()));
}

grpc::ServerUnaryReactor* TunnelServiceImpl::ListTunnels(
    grpc::CallbackServerContext* context, const v1::ListTunnelsRequest* request,
    v1::ListTunnelsResponse* response) {
  if (grpc::Status s = auth_.Check(*context); !s.ok())
    return FinishUnary(context, s);
  ListFilter filter;
  if (request->role() != v1::ROLE_UNSPECIFIED) {
    filter.role = RoleFromProto(request->role());
    if (!filter.role.has_value()) {
      return FinishUnary(context, ToGrpc(InvalidField("role", "unknown role")));
    }
  }
  if (request->state() != v1::TUNNEL_STATE_UNSPECIFIED) {
    filter.state = StateFromProto(request->state());
    if (!filter.state.has_value()) {
      return FinishUnary(context,
                         ToGrpc(InvalidField("state", "unknown state")));
    }
  }
  filter.labels.insert(request->labels().begin(), request->labels().end());
  absl::StatusOr<ListPage> page =
      sessions_.List(filter, request->page_size(), request->page_token());
  if (page.ok()) {
    for (const TunnelSnapshot& t : page->tunnels) {
      ToProto(t, *response->add_tunnels());
    }
    response->set_next_page_token(page->next_page_token);
  }
  return FinishUnary(context, ToGrpc(page.status()));
}

grpc::ServerBidiReactor<v1::PacketBatch, v1::PacketBatch>*
TunnelServiceImpl::StreamPackets(grpc::CallbackServerContext* context) {
  return new PacketStream(sessions_, metrics_, stream_batch_max_bytes_,
                          auth_.Check(*context));
}

grpc::ServerWriteReactor<v1::TunnelEvent>* TunnelServiceImpl::WatchTunnels(
    grpc::CallbackServerContext* context,
    const v1::WatchTunnelsRequest* request) {
  return new EventStream(sessions_, *request, auth_.Check(*context));
}

}  // namespace snaptun::service
