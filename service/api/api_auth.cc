// Bearer-token check.
#include "service/api/api_auth.h"

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "service/api/convert.h"
#include "service/error_reason.h"
#include "tunnel/crypto/secret.h"

namespace snaptun::service {

ApiAuth::~ApiAuth() { crypto::SecureZero(token_.data(), token_.size()); }

grpc::Status ApiAuth::Check(const grpc::CallbackServerContext& context) const {
  if (token_.empty()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return ToGrpc(WithReason(
        absl::UnauthenticatedError("this daemon requires an API token: send "
                                   "'authorization: Bearer <token>'"),
        reason::kApiTokenMissing));
  }
  // Compared in place: the presented token is never copied. The scheme is
  // case-insensitive (RFC 7235), the token is not.
  const absl::string_view value(it->second.data(), it->second.size());
  constexpr absl::string_view kScheme = "bearer ";
  if (value.size() != kScheme.size() + token_.size() ||
      !absl::EqualsIgnoreCase(value.substr(0, kScheme.size()), kScheme) ||
      !crypto::ConstantTimeEqual(
          absl::MakeConstSpan(
              reinterpret_cast<const uint8_t*>(value.data() + kScheme.size()),
              token_.size()),
          absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(token_.data()),
                              token_.size()))) {
    return ToGrpc(WithReason(
        absl::PermissionDeniedError("the API token is not the one this daemon "
                                    "expects"),
        reason::kApiTokenInvalid));
  }
  return grpc::Status::OK;
}

}  // namespace snaptun::service
