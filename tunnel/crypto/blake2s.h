// BLAKE2s (RFC 7693) in the three forms WireGuard needs: the 32-byte hash
// HASH, the keyed 16-byte MAC used for mac1/mac2/cookies, and HMAC-BLAKE2s
// with the HKDF-style KDF1/KDF2/KDF3 that drive the Noise chaining key.
#ifndef SNAPTUN_TUNNEL_CRYPTO_BLAKE2S_H_
#define SNAPTUN_TUNNEL_CRYPTO_BLAKE2S_H_

#include <cstdint>
#include <initializer_list>

#include "absl/types/span.h"
#include "tunnel/crypto/secret.h"

namespace snaptun::crypto {

using ByteParts = std::initializer_list<absl::Span<const uint8_t>>;

// HASH(parts...): BLAKE2s-256 over the concatenation of `parts`.
Bytes<32> Hash(ByteParts parts);

// Keyed BLAKE2s with the digest length set to `out.size()` (1..32) in the
// parameter block; `key` is 1..32 bytes. Returns false on bad sizes.
bool KeyedBlake2s(absl::Span<const uint8_t> key, ByteParts parts,
                  absl::Span<uint8_t> out);

// MAC(key, parts...): keyed BLAKE2s with a 16-byte digest.
Bytes<16> Mac(absl::Span<const uint8_t> key, ByteParts parts);

// HMAC (RFC 2104) with BLAKE2s-256 and its 64-byte block.
Secret<32> Hmac(absl::Span<const uint8_t> key, ByteParts parts);

// KDF_n(ck, input): n outputs of HKDF with HMAC-BLAKE2s, as the WireGuard
// paper defines them.
void Kdf1(const Secret<32>& ck, absl::Span<const uint8_t> input,
          Secret<32>& t1);
void Kdf2(const Secret<32>& ck, absl::Span<const uint8_t> input, Secret<32>& t1,
          Secret<32>& t2);
void Kdf3(const Secret<32>& ck, absl::Span<const uint8_t> input, Secret<32>& t1,
          Secret<32>& t2, Secret<32>& t3);

}  // namespace snaptun::crypto

#endif  // SNAPTUN_TUNNEL_CRYPTO_BLAKE2S_H_
