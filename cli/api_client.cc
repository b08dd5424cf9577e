// Channel credentials and per-call metadata.
#include "cli/api_client.h"

#include "absl/strings/str_cat.h"
#include "service/secrets/secret_files.h"

namespace snaptun::cli {
absl::StatusOr<ApiClient> ApiClient::Connect(const ConnectionOptions& options) {
  ApiClient client;
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  grpc::ChannelArguments arguments;
  if (!options.tls_ca_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    absl::StatusOr<std::string> ca =
        service::ReadPlainFile(options.tls_ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
    if (!options.tls_cert_file.empty()) {
      absl::StatusOr<std::string> cert =
          service::ReadPlainFile(options.tls_cert_file);
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key =
          service::ReadSecretFile(options.tls_key_file);
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key + "\n";
    }
    credentials = grpc::SslCredentials(ssl);
    if (!options.tls_server_name.empty()) {
      arguments.SetSslTargetNameOverride(options.tls_server_name);
    }
  }
  if (!options.token_file.empty()) {
    absl::StatusOr<std::string> token =
        service::ReadSecretFile(options.token_file);
    if (!token.ok()) return token.status();
    client.token_ = *token;
  }
  client.channel_ =
      grpc::CreateCustomChannel(options.server, credentials, arguments);
  client.tunnels_ = v1::TunnelService::NewStub(client.channel_);
  client.gateway_ = v1::GatewayService::NewStub(client.channel_);
  return client;
}

std::unique_ptr<grpc::ClientContext> ApiClient::Context(
    absl::Duration timeout) const {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!token_.empty()) {
    context->AddMetadata("authorization", "Bearer " + token_);
  }
  if (timeout > absl::ZeroDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
  return context;
}

}  // namespace snaptun::cli
