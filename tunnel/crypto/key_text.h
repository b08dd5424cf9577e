// A key as text: standard base64 of its 32 bytes, the form `wg genkey` and
// `wg pubkey` write and snaptun's flags, files and CLI use. Decoding a
// private key zeroes every intermediate copy.
#ifndef SNAPTUN_TUNNEL_CRYPTO_KEY_TEXT_H_
#define SNAPTUN_TUNNEL_CRYPTO_KEY_TEXT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "tunnel/crypto/secret.h"

namespace snaptun::crypto {

// The base64 text of the 32 bytes at `key`.
std::string EncodeKey(const uint8_t* key);
// INVALID_ARGUMENT unless `text` is base64 of exactly 32 bytes.
absl::StatusOr<PrivateKey> DecodePrivateKey(const std::string& text);

}  // namespace snaptun::crypto

#endif  // SNAPTUN_TUNNEL_CRYPTO_KEY_TEXT_H_
