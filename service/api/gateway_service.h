// snaptun.v1.GatewayService on gRPC's callback API: identity grants for the
// gateway role, and the multiplexed packet stream of its tunnels. Revocation
// removes the grant and closes the identity's tunnels on every worker at once.
// Every RPC is FAILED_PRECONDITION when the daemon runs without
// --gateway_listen.
#ifndef SNAPTUN_SERVICE_API_GATEWAY_SERVICE_H_
#define SNAPTUN_SERVICE_API_GATEWAY_SERVICE_H_

#include "proto/snaptun/v1/snaptun.grpc.pb.h"
#include "service/api/api_auth.h"
#include "service/session_manager.h"

namespace snaptun::service {

class GatewayServiceImpl final : public v1::GatewayService::CallbackService {
 public:
  GatewayServiceImpl(SessionManager& sessions, const ApiAuth& auth,
                     DataPlaneMetrics* metrics = nullptr,
                     size_t stream_batch_max_bytes = size_t{1} << 20)
      : sessions_(sessions),
        auth_(auth),
        metrics_(metrics),
        stream_batch_max_bytes_(stream_batch_max_bytes) {}

  grpc::ServerUnaryReactor* AuthorizeIdentity(
      grpc::CallbackServerContext* context,
      const v1::AuthorizeIdentityRequest* request,
      v1::AuthorizeIdentityResponse* response) override;
  grpc::ServerUnaryReactor* RevokeIdentity(
      grpc::CallbackServerContext* context,
      const v1::RevokeIdentityRequest* request,
      v1::RevokeIdentityResponse* response) override;
  grpc::ServerUnaryReactor* ListIdentities(
      grpc::CallbackServerContext* context,
      const v1::ListIdentitiesRequest* request,
      v1::ListIdentitiesResponse* response) override;
  grpc::ServerUnaryReactor* GetGatewayInfo(
      grpc::CallbackServerContext* context,
      const v1::GetGatewayInfoRequest* request,
      v1::GetGatewayInfoResponse* response) override;
  // gateway_mux_stream.h.
  grpc::ServerBidiReactor<v1::GatewayPacketBatch, v1::GatewayPacketBatch>*
  StreamGatewayPackets(grpc::CallbackServerContext* context) override;

 private:
  // OK when the caller is authenticated and the gateway role is on.
  grpc::Status Precheck(const grpc::CallbackServerContext& context) const;

  SessionManager& sessions_;
  const ApiAuth& auth_;
  DataPlaneMetrics* const metrics_;
  const size_t stream_batch_max_bytes_;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_API_GATEWAY_SERVICE_H_
