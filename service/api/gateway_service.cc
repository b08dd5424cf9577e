// GatewayService RPCs.
#include "service/api/gateway_service.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "service/api/convert.h"
#include "service/api/gateway_mux_stream.h"
#include "service/api/labels.h"
#include "service/error_reason.h"

namespace snaptun::service {
namespace {

grpc::Status Invalid(absl::string_view field, const std::string& message,
                     absl::string_view why = reason::kInvalidField) {
  return ToGrpc(InvalidField(field, message, why));
}

std::optional<crypto::PublicKey> Key(const std::string& bytes) {
  if (bytes.size() != 32) return std::nullopt;
  crypto::PublicKey key;
  std::copy(bytes.begin(), bytes.end(), key.begin());
  return key;
}

std::string KeyToken(const crypto::PublicKey& key) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
}

}  // namespace

grpc::Status GatewayServiceImpl::Precheck(
    const grpc::CallbackServerContext& context) const {
  if (grpc::Status s = auth_.Check(context); !s.ok()) return s;
  return ToGrpc(sessions_.GatewayRoleOn());
}

grpc::ServerUnaryReactor* GatewayServiceImpl::AuthorizeIdentity(
    grpc::CallbackServerContext* context,
    const v1::AuthorizeIdentityRequest* request,
    v1::AuthorizeIdentityResponse* response) {
  if (grpc::Status s = Precheck(*context); !s.ok())
    return FinishUnary(context, s);
  const std::optional<crypto::PublicKey> key = Key(request->public_key());
  if (!key.has_value()) {
    return FinishUnary(context,
                       Invalid("public_key",
                               absl::StrCat("public_key must be 32 bytes, got ",
                                            request->public_key().size()),
                               reason::kInvalidPeerKey));
  }
  const absl::Time now = sessions_.Now();
  absl::Time expires = absl::InfiniteFuture();
  if (request->has_expires_at() && request->has_ttl()) {
    return FinishUnary(context,
                       Invalid("ttl", "give expires_at or ttl, not both"));
  }
  if (request->has_expires_at()) expires = FromProto(request->expires_at());
  if (request->has_ttl()) {
    const absl::Duration ttl = FromProto(request->ttl());
    if (ttl <= absl::ZeroDuration())
      return FinishUnary(context, Invalid("ttl", "ttl must be positive"));
    expires = now + ttl;
  }
  if (expires <= now) {
    return FinishUnary(context,
                       Invalid("expires_at", "expires_at is in the past"));
  }
  if (absl::Status s = ValidateLabels(request->labels()); !s.ok()) {
    return FinishUnary(context, ToGrpc(s));
  }
  std::map<std::string, std::string> labels(request->labels().begin(),
                                            request->labels().end());
  const absl::StatusOr<IdentityRecord> record =
      sessions_.GrantIdentity(*key, now, expires, std::move(labels));
  if (!record.ok()) return FinishUnary(context, ToGrpc(record.status()));
  ToProto(*record, sessions_.GatewayTunnelsOf(*key),
          *response->mutable_identity());
  return FinishUnary(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* GatewayServiceImpl::RevokeIdentity(
    grpc::CallbackServerContext* context,
    const v1::RevokeIdentityRequest* request,
    v1::RevokeIdentityResponse* response) {
  if (grpc::Status s = Precheck(*context); !s.ok())
    return FinishUnary(context, s);
  const std::optional<crypto::PublicKey> key = Key(request->public_key());
  if (!key.has_value()) {
    return FinishUnary(context,
                       Invalid("public_key", "public_key must be 32 bytes",
                               reason::kInvalidPeerKey));
  }
  // The workers close the tunnels; the call finishes when the last one is
  // done, without holding this callback thread.
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  sessions_.RevokeIdentity(
      *key, [reactor, response](absl::StatusOr<size_t> closed) {
        if (!closed.ok()) {
          reactor->Finish(ToGrpc(closed.status()));
          return;
        }
        response->set_tunnels_closed(static_cast<uint32_t>(*closed));
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* GatewayServiceImpl::ListIdentities(
    grpc::CallbackServerContext* context,
    const v1::ListIdentitiesRequest* request,
    v1::ListIdentitiesResponse* response) {
  if (grpc::Status s = Precheck(*context); !s.ok())
    return FinishUnary(context, s);
  const size_t page_size = request->page_size() == 0
                               ? 100
                               : std::min<size_t>(request->page_size(), 1000);
  std::vector<IdentityRecord> records =
      sessions_.ListIdentities(sessions_.Now());
  // The token is the hex of the last key of the previous page.
  size_t start = 0;
  if (!request->page_token().empty()) {
    while (start < records.size() &&
           KeyToken(records[start].public_key) <= request->page_token()) {
      ++start;
    }
  }
  const auto counts = sessions_.GatewayTunnelCounts();
  for (size_t i = start; i < records.size(); ++i) {
    if (static_cast<size_t>(response->identities_size()) == page_size) {
      response->set_next_page_token(KeyToken(records[i - 1].public_key));
      break;
    }
    auto count = counts.find(records[i].public_key);
    ToProto(records[i], count == counts.end() ? 0 : count->second,
            *response->add_identities());
  }
  return FinishUnary(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* GatewayServiceImpl::GetGatewayInfo(
    grpc::CallbackServerContext* context, const v1::GetGatewayInfoRequest*,
    v1::GetGatewayInfoResponse* response) {
  if (grpc::Status s = Precheck(*context); !s.ok())
    return FinishUnary(context, s);
  const absl::StatusOr<SessionManager::GatewayInfo> info =
      sessions_.gateway_info();
  if (!info.ok()) return FinishUnary(context, ToGrpc(info.status()));
  response->add_listen_addresses(info->listen_address.ToString());
  response->set_public_key(sessions_.identity().public_key().data(), 32);
  response->set_tunnel_count(static_cast<uint32_t>(info->tunnels));
  response->set_identity_count(static_cast<uint32_t>(info->identities));
  return FinishUnary(context, grpc::Status::OK);
}

grpc::ServerBidiReactor<v1::GatewayPacketBatch, v1::GatewayPacketBatch>*
GatewayServiceImpl::StreamGatewayPackets(grpc::CallbackServerContext* context) {
  return new GatewayMuxStream(sessions_, metrics_, stream_batch_max_bytes_,
                              Precheck(*context));
}

}  // namespace snaptun::service
