// Hex conversions for known-answer tests.
#ifndef SNAPTUN_TESTS_TESTING_HEX_H_
#define SNAPTUN_TESTS_TESTING_HEX_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/types/span.h"

namespace snaptun::testing {

// Decodes lowercase or uppercase hex; aborts the test binary on bad input.
std::vector<uint8_t> FromHex(std::string_view hex);

template <size_t N>
std::array<uint8_t, N> ArrayFromHex(std::string_view hex) {
  std::vector<uint8_t> v = FromHex(hex);
  std::array<uint8_t, N> out{};
  if (v.size() != N) __builtin_trap();
  for (size_t i = 0; i < N; ++i) out[i] = v[i];
  return out;
}

std::string ToHex(absl::Span<const uint8_t> bytes);

// Bytes first, first+1, ..., first+n-1.
std::vector<uint8_t> Sequence(uint8_t first, size_t n);

}  // namespace snaptun::testing

#endif  // SNAPTUN_TESTS_TESTING_HEX_H_
