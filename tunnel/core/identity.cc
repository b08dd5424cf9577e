// Derivation of mac1 and cookie keys from static public keys.
#include "tunnel/core/identity.h"

#include "tunnel/crypto/blake2s.h"

namespace snaptun::core {
namespace {

constexpr uint8_t kLabelMac1[] = {'m', 'a', 'c', '1', '-', '-', '-', '-'};
constexpr uint8_t kLabelCookie[] = {'c', 'o', 'o', 'k', 'i', 'e', '-', '-'};

}  // namespace

crypto::Bytes<32> Mac1KeyFor(const crypto::PublicKey& public_key) {
  return crypto::Hash({kLabelMac1, public_key});
}

crypto::SymmetricKey CookieKeyFor(const crypto::PublicKey& public_key) {
  return crypto::SymmetricKey(crypto::Hash({kLabelCookie, public_key}));
}

RemoteIdentity::RemoteIdentity(const crypto::PublicKey& key)
    : public_key(key),
      mac1_key(Mac1KeyFor(key)),
      cookie_key(CookieKeyFor(key)) {}

LocalIdentity::LocalIdentity(const crypto::PrivateKey& private_key)
    : key_pair_(crypto::X25519KeyPair::FromPrivateKey(private_key)),
      as_remote_(key_pair_.public_key()) {}

}  // namespace snaptun::core
