// Bearer-token check.
#include "service/api/api_auth.h"

#include "tunnel/crypto/secret.h"

namespace snaptun::service {

ApiAuth::~ApiAuth() { crypto::SecureZero(token_.data(), token_.size()); }

grpc::Status ApiAuth::Check(const grpc::CallbackServerContext& context) const {
  if (token_.empty()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "this daemon requires an API token: send "
                        "'authorization: Bearer <token>'");
  }
  const std::string value(it->second.data(), it->second.size());
  constexpr char kPrefix[] = "Bearer ";
  const size_t prefix = sizeof(kPrefix) - 1;
  if (value.size() != prefix + token_.size() ||
      value.compare(0, prefix, kPrefix) != 0 ||
      !crypto::ConstantTimeEqual(
          absl::MakeConstSpan(
              reinterpret_cast<const uint8_t*>(value.data() + prefix),
              token_.size()),
          absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(token_.data()),
                              token_.size()))) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "the API token is not the one this daemon expects");
  }
  return grpc::Status::OK;
}

}  // namespace snaptun::service
