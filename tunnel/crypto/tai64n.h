// TAI64N timestamps for handshake initiations: 8 bytes of seconds
// (0x400000000000000a + Unix seconds) and 4 bytes of nanoseconds, both
// big-endian so that byte order is time order. The nanoseconds are rounded
// down to a multiple of 2^24 (about 16.8 ms), as the kernel and wireguard-go
// do, so the timestamp does not reveal the sender's timer precision.
#ifndef SNAPTUN_TUNNEL_CRYPTO_TAI64N_H_
#define SNAPTUN_TUNNEL_CRYPTO_TAI64N_H_

#include "absl/time/time.h"
#include "tunnel/crypto/secret.h"

namespace snaptun::crypto {

using Tai64n = Bytes<12>;

// The whitened TAI64N label of the wall-clock time `now`.
Tai64n Tai64nFromTime(absl::Time now);

// True when `a` is strictly later than `b`.
bool Tai64nAfter(const Tai64n& a, const Tai64n& b);

}  // namespace snaptun::crypto

#endif  // SNAPTUN_TUNNEL_CRYPTO_TAI64N_H_
