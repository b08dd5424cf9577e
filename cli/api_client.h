// How snaptunctl reaches a daemon: a channel (plaintext, TLS, or mTLS from
// files) and the bearer token added to every call.
#ifndef SNAPTUN_CLI_API_CLIENT_H_
#define SNAPTUN_CLI_API_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "proto/snaptun/v1/snaptun.grpc.pb.h"

namespace snaptun::cli {

struct ConnectionOptions {
  std::string server = "127.0.0.1:50051";
  std::string tls_ca_file;    // TLS when set.
  std::string tls_cert_file;  // Client certificate (mTLS).
  std::string tls_key_file;
  std::string token_file;  // Bearer token, 0600.
  std::string tls_server_name;
};

class ApiClient {
 public:
  static absl::StatusOr<ApiClient> Connect(const ConnectionOptions& options);

  // A context carrying the token, with `timeout` (zero: none).
  std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout) const;
  v1::TunnelService::Stub& tunnels() { return *tunnels_; }
  v1::GatewayService::Stub& gateway() { return *gateway_; }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::TunnelService::Stub> tunnels_;
  std::unique_ptr<v1::GatewayService::Stub> gateway_;
  std::string token_;
};

}  // namespace snaptun::cli

#endif  // SNAPTUN_CLI_API_CLIENT_H_
