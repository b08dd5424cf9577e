// Little-endian loads and stores of the fixed-width integers that WireGuard's
// wire format and ChaCha20's state use. Written byte by byte, which compilers
// turn into single moves on little-endian hosts.
#ifndef SNAPTUN_TUNNEL_CRYPTO_ENDIAN_H_
#define SNAPTUN_TUNNEL_CRYPTO_ENDIAN_H_

#include <cstddef>
#include <cstdint>

namespace snaptun::crypto {

template <typename T>
inline T LoadLittleEndian(const uint8_t* p) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(p[i]) << (8 * i);
  return v;
}

template <typename T>
inline void StoreLittleEndian(uint8_t* p, T v) {
  for (size_t i = 0; i < sizeof(T); ++i)
    p[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace snaptun::crypto

#endif  // SNAPTUN_TUNNEL_CRYPTO_ENDIAN_H_
