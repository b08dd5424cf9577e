// API authentication for every snaptun RPC: when a bearer token is
// configured, each call must carry `authorization: Bearer <token>`. A
// missing header is UNAUTHENTICATED, a wrong token PERMISSION_DENIED. The
// comparison is constant-time and the token is never logged. The standard
// health and reflection services stay open: probes must not need secrets.
#ifndef SNAPTUN_SERVICE_API_API_AUTH_H_
#define SNAPTUN_SERVICE_API_API_AUTH_H_

#include <grpcpp/grpcpp.h>

#include <string>

namespace snaptun::service {

class ApiAuth {
 public:
  // An empty token turns authentication off.
  explicit ApiAuth(std::string token) : token_(std::move(token)) {}
  ~ApiAuth();

  grpc::Status Check(const grpc::CallbackServerContext& context) const;
  bool enabled() const { return !token_.empty(); }

 private:
  std::string token_;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_API_API_AUTH_H_
