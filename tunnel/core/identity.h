// Static identities and the keys WireGuard derives from them once: the mac1
// key HASH("mac1----" ‖ public) and the cookie key HASH("cookie--" ‖ public).
// `LocalIdentity` owns our private key; `RemoteIdentity` is a peer's public
// key with its derived keys, computed when the peer becomes known rather than
// per message.
#ifndef SNAPTUN_TUNNEL_CORE_IDENTITY_H_
#define SNAPTUN_TUNNEL_CORE_IDENTITY_H_

#include "tunnel/crypto/secret.h"
#include "tunnel/crypto/x25519.h"

namespace snaptun::core {

// The key that checks mac1 of messages to `public_key`'s owner, and the one
// that opens the cookie replies it sends: each one BLAKE2s of the key.
crypto::Bytes<32> Mac1KeyFor(const crypto::PublicKey& public_key);
crypto::SymmetricKey CookieKeyFor(const crypto::PublicKey& public_key);

struct RemoteIdentity {
  explicit RemoteIdentity(const crypto::PublicKey& public_key);

  crypto::PublicKey public_key;
  crypto::Bytes<32> mac1_key;
  crypto::SymmetricKey cookie_key;
};

class LocalIdentity {
 public:
  explicit LocalIdentity(const crypto::PrivateKey& private_key);

  const crypto::X25519KeyPair& key_pair() const { return key_pair_; }
  const crypto::PublicKey& public_key() const { return key_pair_.public_key(); }
  // Checks mac1 of messages addressed to us.
  const crypto::Bytes<32>& mac1_key() const { return as_remote_.mac1_key; }
  // Encrypts cookie replies we send.
  const crypto::SymmetricKey& cookie_key() const {
    return as_remote_.cookie_key;
  }

 private:
  crypto::X25519KeyPair key_pair_;
  RemoteIdentity as_remote_;
};

}  // namespace snaptun::core

#endif  // SNAPTUN_TUNNEL_CORE_IDENTITY_H_
