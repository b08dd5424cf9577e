// Fuzz target: the SNAP token's expiry over arbitrary file contents, as a
// whole token and as the payload of a JWT. It must never crash, and an
// expiry it reports must be a positive time within the parser's bound.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/escaping.h"
#include "service/control_plane/token_expiry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  for (const std::string& token :
       {input, "e30." + absl::WebSafeBase64Escape(input) + ".sig"}) {
    const std::optional<absl::Time> expiry =
        snaptun::service::TokenExpiry(token);
    if (expiry.has_value() && (*expiry <= absl::UnixEpoch() ||
                               *expiry > absl::FromUnixSeconds(100000000000))) {
      std::abort();
    }
  }
  return 0;
}
