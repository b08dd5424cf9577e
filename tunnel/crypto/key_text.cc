// Base64 keys.
#include "tunnel/crypto/key_text.h"

#include <cstring>

#include "absl/strings/escaping.h"

namespace snaptun::crypto {

std::string EncodeKey(const uint8_t* key) {
  return absl::Base64Escape(
      absl::string_view(reinterpret_cast<const char*>(key), 32));
}

absl::StatusOr<PrivateKey> DecodePrivateKey(const std::string& text) {
  std::string bytes;
  if (!absl::Base64Unescape(text, &bytes) || bytes.size() != 32) {
    SecureZero(bytes.data(), bytes.size());
    return absl::InvalidArgumentError(
        "a key must be 32 bytes in base64 (as `wg genkey` or `snaptunctl "
        "keygen` writes it)");
  }
  PrivateKey key;
  std::memcpy(key.data(), bytes.data(), 32);
  SecureZero(bytes.data(), bytes.size());
  return key;
}

}  // namespace snaptun::crypto
