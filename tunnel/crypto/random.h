// Where randomness comes from. The protocol core never calls a generator
// itself; it is handed a RandomSource so tests can make every ephemeral key,
// index and nonce deterministic.
#ifndef SNAPTUN_TUNNEL_CRYPTO_RANDOM_H_
#define SNAPTUN_TUNNEL_CRYPTO_RANDOM_H_

#include <cstdint>

#include "absl/types/span.h"

namespace snaptun::crypto {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // Fills `out` with random bytes.
  virtual void Fill(absl::Span<uint8_t> out) = 0;

  uint32_t NextU32() {
    uint32_t v;
    Fill(absl::MakeSpan(reinterpret_cast<uint8_t*>(&v), sizeof(v)));
    return v;
  }
};

// OpenSSL's CSPRNG. Aborts if it cannot produce bytes, since every key made
// without it would be predictable.
class SystemRandom final : public RandomSource {
 public:
  void Fill(absl::Span<uint8_t> out) override;
};

}  // namespace snaptun::crypto

#endif  // SNAPTUN_TUNNEL_CRYPTO_RANDOM_H_
