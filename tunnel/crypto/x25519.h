// X25519 (RFC 7748) key agreement for the Noise handshake.
#ifndef SNAPTUN_TUNNEL_CRYPTO_X25519_H_
#define SNAPTUN_TUNNEL_CRYPTO_X25519_H_

#include "tunnel/crypto/random.h"
#include "tunnel/crypto/secret.h"

namespace snaptun::crypto {

// The public key of `private_key` (clamped as RFC 7748 says).
PublicKey X25519PublicKey(const PrivateKey& private_key);

// A fresh private key from `rng`.
PrivateKey X25519GenerateKey(RandomSource& rng);

// DH(private_key, peer_public) into `shared`. Returns false when the result
// is all zeros (the peer sent a low-order point), as WireGuard requires; the
// caller must then abandon the handshake.
bool X25519(const PrivateKey& private_key, const PublicKey& peer_public,
            SymmetricKey& shared);

}  // namespace snaptun::crypto

#endif  // SNAPTUN_TUNNEL_CRYPTO_X25519_H_
