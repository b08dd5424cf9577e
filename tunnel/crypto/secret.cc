// Zeroing and constant-time comparison on OpenSSL's primitives.
#include "tunnel/crypto/secret.h"

#include <openssl/crypto.h>

namespace snaptun::crypto {

void SecureZero(void* p, size_t len) { OPENSSL_cleanse(p, len); }

bool ConstantTimeEqual(absl::Span<const uint8_t> a,
                       absl::Span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool IsAllZero(absl::Span<const uint8_t> a) {
  uint8_t acc = 0;
  for (uint8_t b : a) acc |= b;
  return acc == 0;
}

}  // namespace snaptun::crypto
