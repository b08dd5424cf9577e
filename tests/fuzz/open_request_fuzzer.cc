// Fuzz target: proto-to-params conversion of OpenTunnel. Arbitrary bytes are
// parsed as an OpenTunnelRequest (as gRPC would) and validated; what passes
// must satisfy the invariants the session manager relies on.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "proto/snaptun/v1/snaptun.pb.h"
#include "service/api/tunnel_service.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  snaptun::v1::OpenTunnelRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  const absl::StatusOr<snaptun::service::OpenParams> params =
      snaptun::service::ValidateOpen(request);
  if (!params.ok()) {
    if (params.status().code() != absl::StatusCode::kInvalidArgument) {
      std::abort();
    }
    return 0;
  }
  if (params->tunnel_id.size() > 128 || params->labels.size() > 64 ||
      params->connect_timeout <= absl::ZeroDuration() ||
      params->receive_queue_capacity == 0) {
    std::abort();
  }
  return 0;
}
