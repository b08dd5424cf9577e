// X25519 on OpenSSL's EVP_PKEY interface. Keys are wrapped in EVP_PKEY only
// for the duration of one call; OpenSSL zeroes its copy of a private key when
// the EVP_PKEY is freed.
#include "tunnel/crypto/x25519.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <memory>

namespace snaptun::crypto {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

Pkey PrivateToPkey(const PrivateKey& key) {
  return Pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr,
                                           key.data(), key.size()));
}

}  // namespace

PublicKey X25519PublicKey(const PrivateKey& private_key) {
  PublicKey pub{};
  Pkey pkey = PrivateToPkey(private_key);
  size_t len = pub.size();
  if (!pkey || EVP_PKEY_get_raw_public_key(pkey.get(), pub.data(), &len) != 1 ||
      len != pub.size()) {
    std::abort();  // Only fails on allocation failure.
  }
  return pub;
}

PrivateKey X25519GenerateKey(RandomSource& rng) {
  PrivateKey key;
  rng.Fill(key.mutable_span());
  return key;
}

bool X25519(const PrivateKey& private_key, const PublicKey& peer_public,
            SymmetricKey& shared) {
  Pkey ours = PrivateToPkey(private_key);
  Pkey theirs(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr,
                                          peer_public.data(),
                                          peer_public.size()));
  if (!ours || !theirs) return false;
  PkeyCtx ctx(EVP_PKEY_CTX_new(ours.get(), nullptr));
  size_t len = shared.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), theirs.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), shared.data(), &len) != 1 ||
      len != shared.size()) {
    // OpenSSL itself refuses an all-zero result; either way there is no key.
    shared.Clear();
    return false;
  }
  return !IsAllZero(shared.span());
}

}  // namespace snaptun::crypto
