// BLAKE2s on OpenSSL 3: the digest through EVP_MD "BLAKE2S-256", the keyed
// form through EVP_MAC "BLAKE2SMAC" (digest length as a parameter). Both
// algorithm objects are fetched once per process; contexts are per thread
// and reused, so a handshake allocates nothing here. HMAC is built from the
// digest (RFC 2104) rather than EVP_MAC "HMAC" to avoid a context per call.
#include "tunnel/crypto/blake2s.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstdlib>
#include <cstring>

namespace snaptun::crypto {
namespace {

constexpr size_t kBlockSize = 64;

const EVP_MD* Digest() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "BLAKE2S-256", nullptr);
  if (md == nullptr) std::abort();
  return md;
}

EVP_MD_CTX* DigestContext() {
  thread_local struct Holder {
    Holder() : ctx(EVP_MD_CTX_new()) {
      if (ctx == nullptr) std::abort();
    }
    ~Holder() { EVP_MD_CTX_free(ctx); }
    EVP_MD_CTX* ctx;
  } holder;
  return holder.ctx;
}

EVP_MAC_CTX* MacContext() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "BLAKE2SMAC", nullptr);
  if (mac == nullptr) std::abort();
  thread_local struct Holder {
    Holder() : ctx(EVP_MAC_CTX_new(mac)) {
      if (ctx == nullptr) std::abort();
    }
    ~Holder() { EVP_MAC_CTX_free(ctx); }
    EVP_MAC_CTX* ctx;
  } holder;
  return holder.ctx;
}

void HashInto(ByteParts parts, uint8_t* out) {
  EVP_MD_CTX* ctx = DigestContext();
  if (EVP_DigestInit_ex2(ctx, Digest(), nullptr) != 1) std::abort();
  for (const auto& part : parts) {
    if (!part.empty() && EVP_DigestUpdate(ctx, part.data(), part.size()) != 1) {
      std::abort();
    }
  }
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != 32) std::abort();
}

}  // namespace

Bytes<32> Hash(ByteParts parts) {
  Bytes<32> out;
  HashInto(parts, out.data());
  return out;
}

bool KeyedBlake2s(absl::Span<const uint8_t> key, ByteParts parts,
                  absl::Span<uint8_t> out) {
  if (key.empty() || key.size() > 32 || out.empty() || out.size() > 32) {
    return false;
  }
  EVP_MAC_CTX* ctx = MacContext();
  size_t size = out.size();
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_MAC_init(ctx, key.data(), key.size(), params) != 1) return false;
  for (const auto& part : parts) {
    if (!part.empty() && EVP_MAC_update(ctx, part.data(), part.size()) != 1) {
      return false;
    }
  }
  size_t len = 0;
  return EVP_MAC_final(ctx, out.data(), &len, out.size()) == 1 &&
         len == out.size();
}

Bytes<16> Mac(absl::Span<const uint8_t> key, ByteParts parts) {
  Bytes<16> out;
  if (!KeyedBlake2s(key, parts, absl::MakeSpan(out))) std::abort();
  return out;
}

Secret<32> Hmac(absl::Span<const uint8_t> key, ByteParts parts) {
  uint8_t block[kBlockSize] = {};
  if (key.size() > kBlockSize) {
    HashInto({key}, block);
  } else {
    std::memcpy(block, key.data(), key.size());
  }
  uint8_t pad[kBlockSize];
  for (size_t i = 0; i < kBlockSize; ++i) pad[i] = block[i] ^ 0x36;

  EVP_MD_CTX* ctx = DigestContext();
  uint8_t inner[32];
  unsigned int len = 0;
  if (EVP_DigestInit_ex2(ctx, Digest(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx, pad, kBlockSize) != 1) {
    std::abort();
  }
  for (const auto& part : parts) {
    if (!part.empty() && EVP_DigestUpdate(ctx, part.data(), part.size()) != 1) {
      std::abort();
    }
  }
  if (EVP_DigestFinal_ex(ctx, inner, &len) != 1) std::abort();

  for (size_t i = 0; i < kBlockSize; ++i) pad[i] = block[i] ^ 0x5c;
  Secret<32> out;
  HashInto({absl::MakeConstSpan(pad), absl::MakeConstSpan(inner)}, out.data());
  SecureZero(block, sizeof(block));
  SecureZero(pad, sizeof(pad));
  SecureZero(inner, sizeof(inner));
  return out;
}

namespace {

// Runs the extract step and `n` expand steps into `outs`.
void Kdf(const Secret<32>& ck, absl::Span<const uint8_t> input,
         std::initializer_list<Secret<32>*> outs) {
  const Secret<32> prk = Hmac(ck.span(), {input});
  Secret<32> previous;
  uint8_t counter = 1;
  for (Secret<32>* out : outs) {
    const uint8_t c[1] = {counter++};
    absl::Span<const uint8_t> prev_span =
        counter == 2 ? absl::Span<const uint8_t>() : previous.span();
    previous = Hmac(prk.span(), {prev_span, absl::MakeConstSpan(c)});
    *out = previous;
  }
}

}  // namespace

void Kdf1(const Secret<32>& ck, absl::Span<const uint8_t> input,
          Secret<32>& t1) {
  Kdf(ck, input, {&t1});
}

void Kdf2(const Secret<32>& ck, absl::Span<const uint8_t> input, Secret<32>& t1,
          Secret<32>& t2) {
  Kdf(ck, input, {&t1, &t2});
}

void Kdf3(const Secret<32>& ck, absl::Span<const uint8_t> input, Secret<32>& t1,
          Secret<32>& t2, Secret<32>& t3) {
  Kdf(ck, input, {&t1, &t2, &t3});
}

}  // namespace snaptun::crypto
