// A Connect-protocol unary client over HTTP with libcurl: POST
// {base}/{service}/{method} with a protobuf body (`Content-Type:
// application/proto`) and `Authorization: Bearer <token>`. A non-2xx answer
// is decoded from Connect's JSON error ({"code": "...", "message": "..."})
// into the matching status code; an unreachable server is UNAVAILABLE. The
// token is never logged or put in an error message, and goes only over
// https:// unless the host is explicitly allowed plain http. Answers are
// bounded in size.
#ifndef SNAPTUN_SERVICE_CONTROL_PLANE_CONNECT_CLIENT_H_
#define SNAPTUN_SERVICE_CONTROL_PLANE_CONNECT_CLIENT_H_

#include <atomic>
#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace snaptun::service {

struct ConnectOptions {
  absl::Duration timeout = absl::Seconds(5);
  // A larger answer is refused (OUT_OF_RANGE) without being buffered.
  size_t max_response_bytes = size_t{1} << 20;
  // Hosts (as written in the URL, without port) that may be called over
  // plain http://; any other http:// URL is refused, since the request
  // carries the SNAP token.
  std::vector<std::string> plain_http_hosts;
  // PEM CA bundle that verifies an https:// control plane; empty uses
  // libcurl's default (Debian: /etc/ssl/certs/ca-certificates.crt).
  std::string ca_file;
  // When set (from another thread), an ongoing call is abandoned
  // (CANCELLED); used at shutdown.
  const std::atomic<bool>* cancel = nullptr;
};

// The base URL's scheme and authority joined with `path` (an absolute path
// replaces any path of the base, as the reference client's Url::join does).
// A bare "host:port" becomes "https://host:port".
absl::StatusOr<std::string> JoinUrl(const std::string& base,
                                    const std::string& path);

// The host of an http(s) URL, without brackets or port.
std::string UrlHost(const std::string& url);

// The status a non-2xx answer stands for: the code and message of a
// Connect JSON error ({"code": "...", "message": "..."}) when the body is
// one, else Connect's fallback for the HTTP status. Never OK.
absl::Status DecodeConnectError(long http_status, const std::string& body,
                                const std::string& url);

// One unary call; returns the response body.
absl::StatusOr<std::string> ConnectUnary(const std::string& base_url,
                                         const std::string& path,
                                         const std::string& body,
                                         const std::string& token,
                                         const ConnectOptions& options);

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_CONTROL_PLANE_CONNECT_CLIENT_H_
