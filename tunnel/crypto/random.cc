// SystemRandom on OpenSSL's RAND_bytes.
#include "tunnel/crypto/random.h"

#include <openssl/rand.h>

#include <cstdlib>

namespace snaptun::crypto {

void SystemRandom::Fill(absl::Span<uint8_t> out) {
  if (out.empty()) return;
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) std::abort();
}

}  // namespace snaptun::crypto
