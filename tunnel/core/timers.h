// WireGuard's protocol constants (whitepaper §6), as durations and counts.
#ifndef SNAPTUN_TUNNEL_CORE_TIMERS_H_
#define SNAPTUN_TUNNEL_CORE_TIMERS_H_

#include <cstdint>

#include "absl/time/time.h"

namespace snaptun::core {

inline constexpr uint64_t kRekeyAfterMessages = uint64_t{1} << 60;
inline constexpr absl::Duration kRekeyAfterTime = absl::Seconds(120);
inline constexpr absl::Duration kRejectAfterTime = absl::Seconds(180);
inline constexpr absl::Duration kRekeyAttemptTime = absl::Seconds(90);
inline constexpr absl::Duration kRekeyTimeout = absl::Seconds(5);
// Up to this much random delay is added to each retransmission.
inline constexpr absl::Duration kRekeyTimeoutJitter = absl::Milliseconds(333);
inline constexpr absl::Duration kKeepaliveTimeout = absl::Seconds(10);
// An initiator that has received on a session this old rekeys once, so the
// session is replaced before the peer stops accepting it:
// REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT.
inline constexpr absl::Duration kRekeyOnReceiveAge = absl::Seconds(165);
// Sent data and heard nothing back for this long (KEEPALIVE_TIMEOUT +
// REKEY_TIMEOUT): start a new handshake.
inline constexpr absl::Duration kNewHandshakeTimeout = absl::Seconds(15);
// Initiations from one peer closer together than this are ignored (the
// kernel's and wireguard-go's 50 per second).
inline constexpr absl::Duration kInitiationFloodInterval =
    absl::Milliseconds(20);

}  // namespace snaptun::core

#endif  // SNAPTUN_TUNNEL_CORE_TIMERS_H_
