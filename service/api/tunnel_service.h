// snaptun.v1.TunnelService on gRPC's callback API: no thread per call.
// Unary calls validate, authenticate and hand over to the SessionManager;
// OpenTunnel completes when the handshake does. StreamPackets and
// WatchTunnels are reactors with one write in flight and bounded queues
// (stream_reactors.h).
#ifndef SNAPTUN_SERVICE_API_TUNNEL_SERVICE_H_
#define SNAPTUN_SERVICE_API_TUNNEL_SERVICE_H_

#include "proto/snaptun/v1/snaptun.grpc.pb.h"
#include "service/api/api_auth.h"
#include "service/session_manager.h"

namespace snaptun::service {

class TunnelServiceImpl final : public v1::TunnelService::CallbackService {
 public:
  // `stream_batch_max_bytes`: payload bytes of one PacketBatch the server
  // writes (--stream_batch_max_kib).
  TunnelServiceImpl(SessionManager& sessions, const ApiAuth& auth,
                    DataPlaneMetrics* metrics,
                    size_t stream_batch_max_bytes = size_t{1} << 20)
      : sessions_(sessions),
        auth_(auth),
        metrics_(metrics),
        stream_batch_max_bytes_(stream_batch_max_bytes) {}

  grpc::ServerUnaryReactor* OpenTunnel(grpc::CallbackServerContext* context,
                                       const v1::OpenTunnelRequest* request,
                                       v1::Tunnel* response) override;
  grpc::ServerUnaryReactor* CloseTunnel(
      grpc::CallbackServerContext* context,
      const v1::CloseTunnelRequest* request,
      v1::CloseTunnelResponse* response) override;
  grpc::ServerUnaryReactor* GetTunnel(grpc::CallbackServerContext* context,
                                      const v1::GetTunnelRequest* request,
                                      v1::Tunnel* response) override;
  grpc::ServerUnaryReactor* ListTunnels(
      grpc::CallbackServerContext* context,
      const v1::ListTunnelsRequest* request,
      v1::ListTunnelsResponse* response) override;
  grpc::ServerBidiReactor<v1::PacketBatch, v1::PacketBatch>* StreamPackets(
      grpc::CallbackServerContext* context) override;
  grpc::ServerWriteReactor<v1::TunnelEvent>* WatchTunnels(
      grpc::CallbackServerContext* context,
      const v1::WatchTunnelsRequest* request) override;

 private:
  SessionManager& sessions_;
  const ApiAuth& auth_;
  DataPlaneMetrics* const metrics_;
  const size_t stream_batch_max_bytes_;
};

// Turns a request into OpenParams, or INVALID_ARGUMENT saying what is wrong.
absl::StatusOr<OpenParams> ValidateOpen(const v1::OpenTunnelRequest& request);

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_API_TUNNEL_SERVICE_H_
