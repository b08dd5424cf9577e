// What became of a packet: every drop has a reason and every failed
// handshake has a cause, each an enum value whose name is the label value of
// the matching Prometheus counter (PRODUCT.md §5). The data path returns
// these; the service layer counts them.
#ifndef SNAPTUN_TUNNEL_CORE_VERDICT_H_
#define SNAPTUN_TUNNEL_CORE_VERDICT_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace snaptun::core {

// Every drop reason, once: its enumerator and its label, the value of the
// `reason` label of snaptun_packets_dropped_total and the name of its field
// in the API's DropCounters (tests/service/api_test.cc fails when the proto
// and this list differ). Adding a reason is one line here, its proto field
// and a test that makes the drop happen.
#define SNAPTUN_DROP_REASONS(X)                                              \
  X(kReceiveQueueFull, "receive_queue_full")                                 \
  X(kStreamBackpressure, "stream_backpressure")                              \
  X(kInvalidPacket, "invalid_packet")                                        \
  X(kDecryptFailed, "decrypt_failed")                                        \
  X(kReplay, "replay")                                                       \
  X(kUnauthorized, "unauthorized")                                           \
  X(kNoTunnel, "no_tunnel")                                                  \
  X(kHandshakeQueueFull, "handshake_queue_full")                             \
  X(kSendError, "send_error")                                                \
  X(kOversize, "oversize")                                                   \
  X(kRateLimited, "rate_limited")                                            \
  /* The kernel dropped datagrams on a full socket receive buffer            \
     (SO_RXQ_OVFL), before the data plane could read them. */                \
  X(kSocketOverflow, "socket_overflow")                                      \
  /* Sends the kernel refused: the socket's send buffer stayed full (EAGAIN) \
     after one short wait, or it had no buffer space (ENOBUFS: a full        \
     device queue or no memory). Other refused sends are kSendError. */      \
  X(kSendBufferFull, "send_buffer_full")                                     \
  X(kSendNoBufferSpace, "send_no_buffer_space")                              \
  /* The gateway's SCION packet policy (--gateway_packet_policy=scion): the  \
     payload is not a SCION packet, its path type is neither SCION nor       \
     empty, or its source host address and L4 port are not the tunnel's      \
     remote socket address. */                                               \
  X(kMalformedPacket, "malformed_packet")                                    \
  X(kInvalidPathType, "invalid_path_type")                                   \
  X(kInvalidSourceAddress, "invalid_source_address")

// Every cause of a failed handshake, once: its enumerator, its label (of
// snaptun_handshake_failures_total) and the drop a failed handshake message
// counts as.
#define SNAPTUN_HANDSHAKE_FAILURES(X)                 \
  X(kTimeout, "timeout", kInvalidPacket)              \
  X(kUnauthorized, "unauthorized", kUnauthorized)     \
  X(kInvalidMac, "invalid_mac", kInvalidPacket)       \
  X(kDecryptFailed, "decrypt_failed", kDecryptFailed) \
  X(kStaleTimestamp, "stale_timestamp", kReplay)      \
  X(kRateLimited, "rate_limited", kRateLimited)       \
  X(kAddressRejected, "address_rejected", kInvalidPacket)

#define SNAPTUN_VERDICT_ENUMERATOR(name, ...) name,

enum class DropReason : uint8_t {
  kNone = 0,
  SNAPTUN_DROP_REASONS(SNAPTUN_VERDICT_ENUMERATOR)  //
  kCount,
};

enum class HandshakeFailure : uint8_t {
  kNone = 0,
  SNAPTUN_HANDSHAKE_FAILURES(SNAPTUN_VERDICT_ENUMERATOR)  //
  kCount,
};

#undef SNAPTUN_VERDICT_ENUMERATOR

inline constexpr size_t kDropReasonCount =
    static_cast<size_t>(DropReason::kCount);
inline constexpr size_t kHandshakeFailureCount =
    static_cast<size_t>(HandshakeFailure::kCount);

// The metric label value: "receive_queue_full", "invalid_packet", ...;
// "none" for kNone.
absl::string_view DropReasonName(DropReason reason);

// The metric label value: "timeout", "unauthorized", ...; "none" for kNone.
absl::string_view HandshakeFailureName(HandshakeFailure failure);

// The drop that a failed handshake message counts as.
DropReason DropReasonFor(HandshakeFailure failure);

}  // namespace snaptun::core

#endif  // SNAPTUN_TUNNEL_CORE_VERDICT_H_
