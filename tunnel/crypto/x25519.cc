// X25519 on OpenSSL's EVP_PKEY interface.
#include "tunnel/crypto/x25519.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <memory>
#include <utility>

namespace snaptun::crypto {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};

}  // namespace

X25519KeyPair X25519KeyPair::FromPrivateKey(const PrivateKey& private_key) {
  EVP_PKEY* pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr,
                                                private_key.data(), 32);
  PublicKey pub{};
  size_t len = pub.size();
  if (pkey == nullptr ||
      EVP_PKEY_get_raw_public_key(pkey, pub.data(), &len) != 1 ||
      len != pub.size()) {
    std::abort();  // Only fails on allocation failure.
  }
  return X25519KeyPair(pkey, pub);
}

X25519KeyPair X25519KeyPair::Generate(RandomSource& rng) {
  PrivateKey key;
  rng.Fill(key.mutable_span());
  return FromPrivateKey(key);
}

X25519KeyPair::X25519KeyPair(X25519KeyPair&& other) noexcept
    : pkey_(std::exchange(other.pkey_, nullptr)),
      public_key_(other.public_key_) {}

X25519KeyPair& X25519KeyPair::operator=(X25519KeyPair&& other) noexcept {
  if (this != &other) {
    EVP_PKEY_free(pkey_);
    pkey_ = std::exchange(other.pkey_, nullptr);
    public_key_ = other.public_key_;
  }
  return *this;
}

X25519KeyPair::~X25519KeyPair() { EVP_PKEY_free(pkey_); }

bool X25519KeyPair::Agree(const PublicKey& peer_public,
                          SymmetricKey& shared) const {
  shared.Clear();
  if (pkey_ == nullptr) return false;
  std::unique_ptr<EVP_PKEY, PkeyFree> theirs(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_X25519, nullptr, peer_public.data(), peer_public.size()));
  if (!theirs) return false;
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new(pkey_, nullptr));
  size_t len = shared.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), theirs.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), shared.data(), &len) != 1 ||
      len != shared.size()) {
    // OpenSSL refuses an all-zero result itself; either way there is no key.
    shared.Clear();
    return false;
  }
  return !IsAllZero(shared.span());
}

}  // namespace snaptun::crypto
