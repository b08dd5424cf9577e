// UseLoopbackGateway.
#include "tests/testing/loopback_daemon.h"

#include <unistd.h>

namespace snaptun::testing {

void UseLoopbackGateway(service::DaemonConfig& config,
                        const std::string& key_path) {
  config.grpc_listen = "127.0.0.1:0";
  config.metrics_listen = "127.0.0.1:0";
  config.gateway_listen = "127.0.0.1:0";
  config.private_key_file = key_path;
  config.workers = 2;
  config.handshake_limits.per_source_soft = 1 << 20;
  config.handshake_limits.per_source_hard = 1 << 20;
  config.handshake_limits.global_soft = 1 << 20;
  unlink(key_path.c_str());
}

}  // namespace snaptun::testing
