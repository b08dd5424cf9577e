// A Connect-protocol unary client over HTTP with libcurl: POST
// {base}/{service}/{method} with a protobuf body (`Content-Type:
// application/proto`) and `Authorization: Bearer <token>`. A non-2xx answer
// is decoded from Connect's JSON error ({"code": "...", "message": "..."})
// into the matching status code; an unreachable server is UNAVAILABLE. The
// token is never logged or put in an error message.
#ifndef SNAPTUN_SERVICE_CONTROL_PLANE_CONNECT_CLIENT_H_
#define SNAPTUN_SERVICE_CONTROL_PLANE_CONNECT_CLIENT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace snaptun::service {

// The base URL's scheme and authority joined with `path` (an absolute path
// replaces any path of the base, as the reference client's Url::join does).
// A bare "ip:port" becomes "http://ip:port".
absl::StatusOr<std::string> JoinUrl(const std::string& base,
                                    const std::string& path);

// One unary call; returns the response body.
absl::StatusOr<std::string> ConnectUnary(const std::string& base_url,
                                         const std::string& path,
                                         const std::string& body,
                                         const std::string& token,
                                         absl::Duration timeout);

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_CONTROL_PLANE_CONNECT_CLIENT_H_
