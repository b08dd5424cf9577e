// A deterministic RandomSource for tests: SplitMix64 from a seed, so every
// ephemeral key, index, nonce and jitter repeats run to run.
#ifndef SNAPTUN_TESTS_TESTING_FAKE_RANDOM_H_
#define SNAPTUN_TESTS_TESTING_FAKE_RANDOM_H_

#include <cstdint>

#include "tunnel/crypto/random.h"

namespace snaptun::testing {

class FakeRandom final : public crypto::RandomSource {
 public:
  explicit FakeRandom(uint64_t seed = 1) : state_(seed) {}

  void Fill(absl::Span<uint8_t> out) override {
    for (uint8_t& b : out) {
      if (left_ == 0) {
        word_ = Next();
        left_ = 8;
      }
      b = static_cast<uint8_t>(word_);
      word_ >>= 8;
      --left_;
    }
  }

 private:
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  uint64_t state_;
  uint64_t word_ = 0;
  int left_ = 0;
};

}  // namespace snaptun::testing

#endif  // SNAPTUN_TESTS_TESTING_FAKE_RANDOM_H_
