// header.payload.signature, each base64url; the payload is JSON.
#include "service/control_plane/token_expiry.h"

#include <cctype>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace snaptun::service {

std::optional<absl::Time> TokenExpiry(absl::string_view token) {
  token = absl::StripAsciiWhitespace(token);
  const std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) return std::nullopt;
  std::string payload;
  if (!absl::WebSafeBase64Unescape(parts[1], &payload)) return std::nullopt;
  // The first "exp" key at any depth is enough for a JWT's flat claims.
  const size_t key = payload.find("\"exp\"");
  if (key == std::string::npos) return std::nullopt;
  size_t at = key + 5;
  while (at < payload.size() && std::isspace(payload[at])) ++at;
  if (at >= payload.size() || payload[at] != ':') return std::nullopt;
  ++at;
  while (at < payload.size() && std::isspace(payload[at])) ++at;
  size_t end = at;
  while (end < payload.size() &&
         (std::isdigit(payload[end]) || payload[end] == '.')) {
    ++end;
  }
  double seconds = 0;
  if (end == at || !absl::SimpleAtod(payload.substr(at, end - at), &seconds) ||
      seconds <= 0 || seconds > 1e11) {
    return std::nullopt;
  }
  return absl::FromUnixSeconds(static_cast<int64_t>(seconds));
}

}  // namespace snaptun::service
