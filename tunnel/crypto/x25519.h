// X25519 (RFC 7748) key agreement for the Noise handshake. A key pair keeps
// its private key inside OpenSSL, so the public key is computed once when the
// pair is made and each agreement costs exactly one scalar multiplication.
#ifndef SNAPTUN_TUNNEL_CRYPTO_X25519_H_
#define SNAPTUN_TUNNEL_CRYPTO_X25519_H_

#include "tunnel/crypto/random.h"
#include "tunnel/crypto/secret.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace snaptun::crypto {

class X25519KeyPair {
 public:
  // The pair of `private_key` (clamped as RFC 7748 says).
  static X25519KeyPair FromPrivateKey(const PrivateKey& private_key);
  // A fresh pair from `rng`.
  static X25519KeyPair Generate(RandomSource& rng);

  X25519KeyPair(X25519KeyPair&& other) noexcept;
  X25519KeyPair& operator=(X25519KeyPair&& other) noexcept;
  X25519KeyPair(const X25519KeyPair&) = delete;
  X25519KeyPair& operator=(const X25519KeyPair&) = delete;
  ~X25519KeyPair();  // OpenSSL cleanses the private key.

  const PublicKey& public_key() const { return public_key_; }

  // DH(private, peer_public) into `shared`. False when the result is all
  // zeros (a low-order peer point), which WireGuard treats as a failed
  // handshake; `shared` is then zero.
  bool Agree(const PublicKey& peer_public, SymmetricKey& shared) const;

 private:
  X25519KeyPair(EVP_PKEY* pkey, const PublicKey& pub)
      : pkey_(pkey), public_key_(pub) {}
  EVP_PKEY* pkey_;
  PublicKey public_key_;
};

}  // namespace snaptun::crypto

#endif  // SNAPTUN_TUNNEL_CRYPTO_X25519_H_
