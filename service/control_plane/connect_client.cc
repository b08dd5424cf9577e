// libcurl POST, Connect error decoding.
#include "service/control_plane/connect_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tunnel/crypto/secret.h"

namespace snaptun::service {
namespace {

struct Response {
  std::string body;
  size_t limit = 0;
  bool too_large = false;
};

size_t Append(char* data, size_t size, size_t n, void* out) {
  auto* response = static_cast<Response*>(out);
  if (response->body.size() + size * n > response->limit) {
    response->too_large = true;
    return 0;  // libcurl aborts the transfer.
  }
  response->body.append(data, size * n);
  return size * n;
}

int Progress(void* cancel, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* flag = static_cast<const std::atomic<bool>*>(cancel);
  return flag != nullptr && flag->load(std::memory_order_relaxed) ? 1 : 0;
}

absl::StatusCode ConnectCode(const std::string& code) {
  static const std::map<std::string, absl::StatusCode> kCodes = {
      {"canceled", absl::StatusCode::kCancelled},
      {"unknown", absl::StatusCode::kUnknown},
      {"invalid_argument", absl::StatusCode::kInvalidArgument},
      {"deadline_exceeded", absl::StatusCode::kDeadlineExceeded},
      {"not_found", absl::StatusCode::kNotFound},
      {"already_exists", absl::StatusCode::kAlreadyExists},
      {"permission_denied", absl::StatusCode::kPermissionDenied},
      {"resource_exhausted", absl::StatusCode::kResourceExhausted},
      {"failed_precondition", absl::StatusCode::kFailedPrecondition},
      {"aborted", absl::StatusCode::kAborted},
      {"out_of_range", absl::StatusCode::kOutOfRange},
      {"unimplemented", absl::StatusCode::kUnimplemented},
      {"internal", absl::StatusCode::kInternal},
      {"unavailable", absl::StatusCode::kUnavailable},
      {"data_loss", absl::StatusCode::kDataLoss},
      {"unauthenticated", absl::StatusCode::kUnauthenticated},
  };
  auto it = kCodes.find(code);
  return it == kCodes.end() ? absl::StatusCode::kUnknown : it->second;
}

// Connect's HTTP-status fallback when the body is not a Connect error.
absl::StatusCode HttpCode(long status) {
  switch (status) {
    case 400:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kUnimplemented;
    case 408:
      return absl::StatusCode::kDeadlineExceeded;
    case 429:
    case 502:
    case 503:
    case 504:
      return absl::StatusCode::kUnavailable;
    default:
      return absl::StatusCode::kUnknown;
  }
}

// The string value of a top-level field of a Connect error, enough for
// {"code": "...", "message": "..."}; empty when absent or not a string.
std::string JsonField(const std::string& json, const std::string& name) {
  const std::string key = "\"" + name + "\"";
  size_t at = json.find(key);
  if (at == std::string::npos) return "";
  at += key.size();
  auto skip_space = [&] {
    while (at < json.size() &&
           std::isspace(static_cast<unsigned char>(json[at]))) {
      ++at;
    }
  };
  skip_space();
  if (at >= json.size() || json[at] != ':') return "";
  ++at;
  skip_space();
  if (at >= json.size() || json[at] != '"') return "";
  std::string value;
  for (++at; at < json.size() && json[at] != '"'; ++at) {
    if (json[at] == '\\' && at + 1 < json.size()) ++at;
    value += json[at];
  }
  return value;
}

}  // namespace

absl::StatusOr<std::string> JoinUrl(const std::string& base,
                                    const std::string& path) {
  std::string url = base;
  if (!absl::StrContains(url, "://")) url = "https://" + url;
  const size_t scheme = url.find("://");
  if (!absl::StartsWith(url, "http://") && !absl::StartsWith(url, "https://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "control_plane_url must be http(s)://host[:port], got ", base));
  }
  const size_t path_start = url.find('/', scheme + 3);
  const std::string authority =
      path_start == std::string::npos ? url : url.substr(0, path_start);
  if (authority.size() <= scheme + 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("control_plane_url has no host: ", base));
  }
  return authority + path;
}

std::string UrlHost(const std::string& url) {
  const size_t scheme = url.find("://");
  size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t end = url.find_first_of("/?#", start);
  std::string authority = url.substr(
      start, end == std::string::npos ? std::string::npos : end - start);
  if (const size_t at = authority.rfind('@'); at != std::string::npos) {
    authority = authority.substr(at + 1);
  }
  if (absl::StartsWith(authority, "[")) {
    const size_t close = authority.find(']');
    return authority.substr(
        1, close == std::string::npos ? std::string::npos : close - 1);
  }
  return authority.substr(0, authority.find(':'));
}

absl::StatusOr<std::string> ConnectUnary(const std::string& base_url,
                                         const std::string& path,
                                         const std::string& body,
                                         const std::string& token,
                                         const ConnectOptions& options) {
  absl::StatusOr<std::string> url = JoinUrl(base_url, path);
  if (!url.ok()) return url.status();
  if (absl::StartsWith(*url, "http://")) {
    const std::string host = UrlHost(*url);
    if (std::find(options.plain_http_hosts.begin(),
                  options.plain_http_hosts.end(),
                  host) == options.plain_http_hosts.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "control_plane_url ", base_url,
          " is plain http, which would send the SNAP token in clear text; "
          "use https:// or allow the host with "
          "--control_plane_plain_http_hosts=",
          host));
    }
  }
  static const CURLcode initialized = curl_global_init(CURL_GLOBAL_DEFAULT);
  (void)initialized;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  std::string authorization = "Authorization: Bearer " + token;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/proto");
  headers = curl_slist_append(headers, "Connect-Protocol-Version: 1");
  headers = curl_slist_append(headers, authorization.c_str());
  crypto::SecureZero(authorization.data(), authorization.size());
  Response response;
  response.limit = options.max_response_bytes;
  curl_easy_setopt(curl, CURLOPT_URL, url->c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "snaptund/0.1");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(
      curl, CURLOPT_TIMEOUT_MS,
      static_cast<long>(absl::ToInt64Milliseconds(options.timeout)));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  if (!options.ca_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, options.ca_file.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, Progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA,
                   const_cast<std::atomic<bool>*>(options.cancel));
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  const CURLcode result = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  // The header list holds a copy of the token: zero it before freeing.
  for (curl_slist* h = headers; h != nullptr; h = h->next) {
    crypto::SecureZero(h->data, std::strlen(h->data));
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (response.too_large) {
    return absl::OutOfRangeError(
        absl::StrCat("control plane ", *url, " answered with more than ",
                     options.max_response_bytes, " bytes"));
  }
  if (result == CURLE_ABORTED_BY_CALLBACK) {
    return absl::CancelledError(
        absl::StrCat("call to control plane ", *url, " abandoned"));
  }
  if (result != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat(
        "control plane ", *url, " unreachable: ", curl_easy_strerror(result)));
  }
  if (status / 100 == 2) return std::move(response.body);
  return DecodeConnectError(status, response.body, *url);
}

absl::Status DecodeConnectError(long http_status, const std::string& body,
                                const std::string& url) {
  const std::string code = JsonField(body, "code");
  const std::string message = JsonField(body, "message");
  return absl::Status(
      code.empty() ? HttpCode(http_status) : ConnectCode(code),
      absl::StrCat("control plane ", url, " answered HTTP ", http_status,
                   code.empty() ? "" : absl::StrCat(" ", code),
                   message.empty() ? "" : absl::StrCat(": ", message)));
}

}  // namespace snaptun::service
