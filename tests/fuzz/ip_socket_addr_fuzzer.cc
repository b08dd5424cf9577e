// Fuzz target: the 20-byte IpSocketAddr a SNAP handshake response seals.
// Whatever decodes must encode back to a form that decodes to the same
// endpoint; nothing may crash or read past the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "tunnel/core/ip_socket_addr.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace snaptun::core;
  const std::optional<Endpoint> decoded =
      DecodeIpSocketAddr(absl::MakeConstSpan(data, size));
  if (!decoded.has_value()) return 0;
  const auto encoded = EncodeIpSocketAddr(*decoded);
  const std::optional<Endpoint> again = DecodeIpSocketAddr(encoded);
  if (!again.has_value() || *again != *decoded) std::abort();
  return 0;
}
