// ChaCha20-Poly1305 on OpenSSL's EVP_CIPHER, fetched once per process; and
// HChaCha20, the one primitive written here by hand because OpenSSL has no
// XChaCha20-Poly1305.
//
// An OpenSSL 3 cipher context costs about 1.3 KiB, and a transport keypair
// needs two; a gateway holding a hundred thousand idle tunnels cannot keep
// one per key. So AeadKey holds only its 32-byte key, and each thread keeps
// a small direct-mapped cache of keyed contexts: a busy tunnel's keys stay
// keyed in their slots and cost nothing extra per packet, an idle tunnel's
// cost no context at all, and a slot taken over by another key is re-keyed
// (ChaCha20 has no key schedule, so that is cheap). A destroyed key clears
// its slot on the destroying thread, which for transport keys is the worker
// thread that used them.
#include "tunnel/crypto/aead.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "tunnel/crypto/endian.h"

namespace snaptun::crypto {
namespace {

const EVP_CIPHER* Cipher() {
  static const EVP_CIPHER* cipher =
      EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  if (cipher == nullptr) std::abort();
  return cipher;
}

Bytes<12> CounterNonce(uint64_t counter) {
  Bytes<12> nonce{};
  StoreLittleEndian<uint64_t>(nonce.data() + 4, counter);
  return nonce;
}

bool SealWith(EVP_CIPHER_CTX* ctx, const uint8_t* nonce,
              absl::Span<const uint8_t> plaintext, absl::Span<const uint8_t> ad,
              uint8_t* out) {
  int len = 0;
  if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce) != 1) {
    return false;
  }
  if (!ad.empty() && EVP_EncryptUpdate(ctx, nullptr, &len, ad.data(),
                                       static_cast<int>(ad.size())) != 1) {
    return false;
  }
  if (!plaintext.empty() &&
      EVP_EncryptUpdate(ctx, out, &len, plaintext.data(),
                        static_cast<int>(plaintext.size())) != 1) {
    return false;
  }
  if (EVP_EncryptFinal_ex(ctx, out + plaintext.size(), &len) != 1) {
    return false;
  }
  // The tag through the provider's parameters directly: the ctrl call
  // builds the same parameter and translates it first.
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
                                        out + plaintext.size(), kAeadTagSize),
      OSSL_PARAM_construct_end()};
  return EVP_CIPHER_CTX_get_params(ctx, params) == 1;
}

bool OpenWith(EVP_CIPHER_CTX* ctx, const uint8_t* nonce,
              absl::Span<const uint8_t> ciphertext,
              absl::Span<const uint8_t> ad, uint8_t* out) {
  if (ciphertext.size() < kAeadTagSize) return false;
  const size_t body = ciphertext.size() - kAeadTagSize;
  // The tag is copied out first: `out` may alias `ciphertext`.
  uint8_t tag[kAeadTagSize];
  std::memcpy(tag, ciphertext.data() + body, kAeadTagSize);
  int len = 0;
  if (EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce) != 1) {
    return false;
  }
  if (!ad.empty() && EVP_DecryptUpdate(ctx, nullptr, &len, ad.data(),
                                       static_cast<int>(ad.size())) != 1) {
    return false;
  }
  if (body > 0 && EVP_DecryptUpdate(ctx, out, &len, ciphertext.data(),
                                    static_cast<int>(body)) != 1) {
    return false;
  }
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(
                             OSSL_CIPHER_PARAM_AEAD_TAG, tag, kAeadTagSize),
                         OSSL_PARAM_construct_end()};
  if (EVP_CIPHER_CTX_set_params(ctx, params) != 1) return false;
  if (EVP_DecryptFinal_ex(ctx, out + body, &len) != 1) {
    SecureZero(out, body);  // Never hand out unauthenticated plaintext.
    return false;
  }
  return true;
}

EVP_CIPHER_CTX* NewContext(const SymmetricKey& key, bool seal) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr || EVP_CipherInit_ex(ctx, Cipher(), nullptr, key.data(),
                                          nullptr, seal ? 1 : 0) != 1) {
    std::abort();  // Only fails on allocation failure.
  }
  return ctx;
}

struct ScopedContext {
  ScopedContext(const SymmetricKey& key, bool seal)
      : ctx(NewContext(key, seal)) {}
  ~ScopedContext() { EVP_CIPHER_CTX_free(ctx); }  // Cleanses key material.
  EVP_CIPHER_CTX* ctx;
};

class ContextCache {
 public:
  ~ContextCache() {
    for (Slot& slot : slots_) EVP_CIPHER_CTX_free(slot.ctx);
  }

  EVP_CIPHER_CTX* Get(uint64_t id, const SymmetricKey& key, bool seal) {
    Slot& slot = slots_[id % kSlots];
    if (slot.id == id) return slot.ctx;
    const bool fresh = slot.ctx == nullptr;
    if (fresh) slot.ctx = EVP_CIPHER_CTX_new();
    if (slot.ctx == nullptr ||
        EVP_CipherInit_ex(slot.ctx, fresh ? Cipher() : nullptr, nullptr,
                          key.data(), nullptr, seal ? 1 : 0) != 1) {
      std::abort();  // Only fails on allocation failure.
    }
    slot.id = id;
    return slot.ctx;
  }

  void Forget(uint64_t id) {
    Slot& slot = slots_[id % kSlots];
    if (slot.id != id) return;
    EVP_CIPHER_CTX_free(slot.ctx);  // Cleanses the key material.
    slot = Slot{};
  }

 private:
  static constexpr size_t kSlots = 256;
  struct Slot {
    uint64_t id = 0;
    EVP_CIPHER_CTX* ctx = nullptr;
  };
  Slot slots_[kSlots];
};

ContextCache& ThreadContexts() {
  thread_local ContextCache cache;
  return cache;
}

uint64_t NextKeyId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

inline uint32_t Rotl(uint32_t v, int n) { return (v << n) | (v >> (32 - n)); }

inline void QuarterRound(uint32_t* x, int a, int b, int c, int d) {
  x[a] += x[b];
  x[d] = Rotl(x[d] ^ x[a], 16);
  x[c] += x[d];
  x[b] = Rotl(x[b] ^ x[c], 12);
  x[a] += x[b];
  x[d] = Rotl(x[d] ^ x[a], 8);
  x[c] += x[d];
  x[b] = Rotl(x[b] ^ x[c], 7);
}

}  // namespace

AeadKey::AeadKey(const SymmetricKey& key, Direction direction)
    : key_(key), id_(NextKeyId()), direction_(direction) {}

AeadKey::~AeadKey() { ThreadContexts().Forget(id_); }

bool AeadKey::Seal(uint64_t counter, absl::Span<const uint8_t> plaintext,
                   absl::Span<const uint8_t> ad, uint8_t* out) {
  if (direction_ != Direction::kSeal) return false;
  const Bytes<12> nonce = CounterNonce(counter);
  return SealWith(ThreadContexts().Get(id_, key_, /*seal=*/true), nonce.data(),
                  plaintext, ad, out);
}

bool AeadKey::Open(uint64_t counter, absl::Span<const uint8_t> ciphertext,
                   absl::Span<const uint8_t> ad, uint8_t* out) {
  if (direction_ != Direction::kOpen) return false;
  const Bytes<12> nonce = CounterNonce(counter);
  return OpenWith(ThreadContexts().Get(id_, key_, /*seal=*/false), nonce.data(),
                  ciphertext, ad, out);
}

bool AeadSeal(const SymmetricKey& key, uint64_t counter,
              absl::Span<const uint8_t> plaintext, absl::Span<const uint8_t> ad,
              uint8_t* out) {
  ScopedContext c(key, /*seal=*/true);
  const Bytes<12> nonce = CounterNonce(counter);
  return SealWith(c.ctx, nonce.data(), plaintext, ad, out);
}

bool AeadOpen(const SymmetricKey& key, uint64_t counter,
              absl::Span<const uint8_t> ciphertext,
              absl::Span<const uint8_t> ad, uint8_t* out) {
  ScopedContext c(key, /*seal=*/false);
  const Bytes<12> nonce = CounterNonce(counter);
  return OpenWith(c.ctx, nonce.data(), ciphertext, ad, out);
}

SymmetricKey HChaCha20(const SymmetricKey& key, const Bytes<16>& nonce) {
  uint32_t x[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
  for (int i = 0; i < 8; ++i) {
    x[4 + i] = LoadLittleEndian<uint32_t>(key.data() + 4 * i);
  }
  for (int i = 0; i < 4; ++i) {
    x[12 + i] = LoadLittleEndian<uint32_t>(nonce.data() + 4 * i);
  }
  for (int round = 0; round < 10; ++round) {
    QuarterRound(x, 0, 4, 8, 12);  // Column rounds.
    QuarterRound(x, 1, 5, 9, 13);
    QuarterRound(x, 2, 6, 10, 14);
    QuarterRound(x, 3, 7, 11, 15);
    QuarterRound(x, 0, 5, 10, 15);  // Diagonal rounds.
    QuarterRound(x, 1, 6, 11, 12);
    QuarterRound(x, 2, 7, 8, 13);
    QuarterRound(x, 3, 4, 9, 14);
  }
  SymmetricKey subkey;
  for (int i = 0; i < 4; ++i) {
    StoreLittleEndian<uint32_t>(subkey.data() + 4 * i, x[i]);
    StoreLittleEndian<uint32_t>(subkey.data() + 16 + 4 * i, x[12 + i]);
  }
  SecureZero(x, sizeof(x));
  return subkey;
}

namespace {

// The inner ChaCha20-Poly1305 nonce: four zero bytes, then nonce[16:24].
Bytes<12> InnerNonce(const Bytes<24>& nonce) {
  Bytes<12> inner{};
  std::memcpy(inner.data() + 4, nonce.data() + 16, 8);
  return inner;
}

Bytes<16> NoncePrefix(const Bytes<24>& nonce) {
  Bytes<16> prefix;
  std::memcpy(prefix.data(), nonce.data(), 16);
  return prefix;
}

}  // namespace

bool XAeadSeal(const SymmetricKey& key, const Bytes<24>& nonce,
               absl::Span<const uint8_t> plaintext,
               absl::Span<const uint8_t> ad, uint8_t* out) {
  ScopedContext c(HChaCha20(key, NoncePrefix(nonce)), /*seal=*/true);
  const Bytes<12> inner = InnerNonce(nonce);
  return SealWith(c.ctx, inner.data(), plaintext, ad, out);
}

bool XAeadOpen(const SymmetricKey& key, const Bytes<24>& nonce,
               absl::Span<const uint8_t> ciphertext,
               absl::Span<const uint8_t> ad, uint8_t* out) {
  ScopedContext c(HChaCha20(key, NoncePrefix(nonce)), /*seal=*/false);
  const Bytes<12> inner = InnerNonce(nonce);
  return OpenWith(c.ctx, inner.data(), ciphertext, ad, out);
}

}  // namespace snaptun::crypto
