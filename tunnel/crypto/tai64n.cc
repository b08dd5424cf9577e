// TAI64N encoding and ordering.
#include "tunnel/crypto/tai64n.h"

#include <cstring>

namespace snaptun::crypto {
namespace {

constexpr uint64_t kTai64Base = 0x400000000000000aULL;
constexpr uint32_t kWhitenerMask = 0x1000000 - 1;

}  // namespace

Tai64n Tai64nFromTime(absl::Time now) {
  const int64_t nanos_total = absl::ToUnixNanos(now);
  int64_t secs = nanos_total / 1000000000;
  int64_t nanos = nanos_total % 1000000000;
  if (nanos < 0) {
    nanos += 1000000000;
    --secs;
  }
  const uint64_t s = kTai64Base + static_cast<uint64_t>(secs);
  const uint32_t n = static_cast<uint32_t>(nanos) & ~kWhitenerMask;
  Tai64n out;
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(s >> (56 - 8 * i));
  for (int i = 0; i < 4; ++i) {
    out[8 + i] = static_cast<uint8_t>(n >> (24 - 8 * i));
  }
  return out;
}

bool Tai64nAfter(const Tai64n& a, const Tai64n& b) {
  return std::memcmp(a.data(), b.data(), a.size()) > 0;
}

}  // namespace snaptun::crypto
