// Fixed-size byte strings for keys, and the two operations every secret
// needs: zeroing that the compiler cannot elide, and comparison whose time
// does not depend on the data. `Secret<N>` zeroes itself when destroyed or
// overwritten; public values (public keys, MACs) use plain `Bytes<N>`.
#ifndef SNAPTUN_TUNNEL_CRYPTO_SECRET_H_
#define SNAPTUN_TUNNEL_CRYPTO_SECRET_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/types/span.h"

namespace snaptun::crypto {

template <size_t N>
using Bytes = std::array<uint8_t, N>;

using PublicKey = Bytes<32>;

// Overwrites `len` bytes at `p` with zeros; never optimised away.
void SecureZero(void* p, size_t len);

// True when `a` and `b` have equal length and contents. Runs in time that
// depends only on the length.
bool ConstantTimeEqual(absl::Span<const uint8_t> a,
                       absl::Span<const uint8_t> b);

// True when all bytes are zero, in time that depends only on the length.
bool IsAllZero(absl::Span<const uint8_t> a);

// A secret of N bytes that is zeroed when it is destroyed, assigned over or
// moved from.
template <size_t N>
class Secret {
 public:
  Secret() { bytes_.fill(0); }
  explicit Secret(const Bytes<N>& b) : bytes_(b) {}
  Secret(const Secret& other) : bytes_(other.bytes_) {}
  Secret& operator=(const Secret& other) {
    if (this != &other) bytes_ = other.bytes_;
    return *this;
  }
  Secret(Secret&& other) noexcept : bytes_(other.bytes_) { other.Clear(); }
  Secret& operator=(Secret&& other) noexcept {
    if (this != &other) {
      bytes_ = other.bytes_;
      other.Clear();
    }
    return *this;
  }
  ~Secret() { Clear(); }

  void Clear() { SecureZero(bytes_.data(), N); }
  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  static constexpr size_t size() { return N; }
  absl::Span<const uint8_t> span() const { return bytes_; }
  absl::Span<uint8_t> mutable_span() { return absl::MakeSpan(bytes_); }
  Bytes<N>& bytes() { return bytes_; }
  const Bytes<N>& bytes() const { return bytes_; }

 private:
  Bytes<N> bytes_;
};

using PrivateKey = Secret<32>;
using SymmetricKey = Secret<32>;

}  // namespace snaptun::crypto

#endif  // SNAPTUN_TUNNEL_CRYPTO_SECRET_H_
