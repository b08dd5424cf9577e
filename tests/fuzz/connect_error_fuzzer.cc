// Fuzz target: the Connect error decoder over arbitrary answer bodies and
// HTTP statuses. It must never crash, never read past the body, and never
// turn a failed call into OK.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "service/control_plane/connect_client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const long status = 100 + (data[0] | (data[1] << 8)) % 500;
  const std::string body(reinterpret_cast<const char*>(data + 2), size - 2);
  const absl::Status decoded =
      snaptun::service::DecodeConnectError(status, body, "https://cp/x");
  if (decoded.ok()) std::abort();
  return 0;
}
