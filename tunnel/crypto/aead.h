// ChaCha20-Poly1305 (RFC 8439) as WireGuard uses it: a 96-bit nonce made of
// four zero bytes and a little-endian 64-bit counter, a 16-byte tag appended
// to the ciphertext. `AeadKey` holds an OpenSSL context keyed once, so the
// per-packet path only sets the nonce; the one-shot functions serve the
// handshake. XChaCha20-Poly1305 (cookie replies) sits on top: HChaCha20
// derives a subkey from the first 16 bytes of a 24-byte nonce.
#ifndef SNAPTUN_TUNNEL_CRYPTO_AEAD_H_
#define SNAPTUN_TUNNEL_CRYPTO_AEAD_H_

#include <cstddef>
#include <cstdint>

#include "absl/types/span.h"
#include "tunnel/crypto/secret.h"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace snaptun::crypto {

inline constexpr size_t kAeadTagSize = 16;

// A ChaCha20-Poly1305 key bound to one direction. Not thread-safe; a
// transport session owns one per direction.
class AeadKey {
 public:
  enum class Direction { kSeal, kOpen };

  AeadKey(const SymmetricKey& key, Direction direction);
  ~AeadKey();
  AeadKey(const AeadKey&) = delete;
  AeadKey& operator=(const AeadKey&) = delete;

  // Encrypts `plaintext` into `out` (plaintext.size() + 16 bytes; may alias
  // plaintext's start). Returns false only on an OpenSSL failure.
  bool Seal(uint64_t counter, absl::Span<const uint8_t> plaintext,
            absl::Span<const uint8_t> ad, uint8_t* out);

  // Decrypts and authenticates `ciphertext` (payload + tag) into `out`
  // (ciphertext.size() - 16 bytes; may alias). False if the tag is wrong.
  bool Open(uint64_t counter, absl::Span<const uint8_t> ciphertext,
            absl::Span<const uint8_t> ad, uint8_t* out);

  uint64_t id() const { return id_; }

 private:
  SymmetricKey key_;  // Zeroed on destruction.
  uint64_t id_;
  Direction direction_;
};

// One-shot forms for handshake messages: each sets up a context, uses it
// once and wipes it.
bool AeadSeal(const SymmetricKey& key, uint64_t counter,
              absl::Span<const uint8_t> plaintext, absl::Span<const uint8_t> ad,
              uint8_t* out);
bool AeadOpen(const SymmetricKey& key, uint64_t counter,
              absl::Span<const uint8_t> ciphertext,
              absl::Span<const uint8_t> ad, uint8_t* out);

// HChaCha20 (draft-irtf-cfrg-xchacha §2.2): a subkey from a key and the
// first 16 bytes of an extended nonce.
SymmetricKey HChaCha20(const SymmetricKey& key, const Bytes<16>& nonce);

// XChaCha20-Poly1305 with a 24-byte nonce.
bool XAeadSeal(const SymmetricKey& key, const Bytes<24>& nonce,
               absl::Span<const uint8_t> plaintext,
               absl::Span<const uint8_t> ad, uint8_t* out);
bool XAeadOpen(const SymmetricKey& key, const Bytes<24>& nonce,
               absl::Span<const uint8_t> ciphertext,
               absl::Span<const uint8_t> ad, uint8_t* out);

}  // namespace snaptun::crypto

#endif  // SNAPTUN_TUNNEL_CRYPTO_AEAD_H_
