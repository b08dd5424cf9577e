// Deterministic private keys for tests: 32 copies of one byte.
#ifndef SNAPTUN_TESTS_TESTING_KEYS_H_
#define SNAPTUN_TESTS_TESTING_KEYS_H_

#include <algorithm>
#include <cstdint>

#include "tunnel/crypto/secret.h"

namespace snaptun::testing {

inline crypto::PrivateKey FilledKey(uint8_t fill) {
  crypto::PrivateKey key;
  std::fill(key.data(), key.data() + key.size(), fill);
  return key;
}

}  // namespace snaptun::testing

#endif  // SNAPTUN_TESTS_TESTING_KEYS_H_
