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

enum class DropReason : uint8_t {
  kNone = 0,
  kReceiveQueueFull,
  kStreamBackpressure,
  kInvalidPacket,
  kDecryptFailed,
  kReplay,
  kUnauthorized,
  kNoTunnel,
  kHandshakeQueueFull,
  kSendError,
  kOversize,
  kRateLimited,
  // The kernel dropped datagrams on a full socket receive buffer
  // (SO_RXQ_OVFL), before the data plane could read them.
  kSocketOverflow,
  // Sends the kernel refused: the socket's send buffer stayed full (EAGAIN)
  // after one short wait, or it had no buffer space (ENOBUFS: a full device
  // queue or no memory). Other refused sends are kSendError.
  kSendBufferFull,
  kSendNoBufferSpace,
  // The gateway's SCION packet policy (--gateway_packet_policy=scion): the
  // payload is not a SCION packet, its path type is neither SCION nor
  // empty, or its source host address and L4 port are not the tunnel's
  // remote socket address.
  kMalformedPacket,
  kInvalidPathType,
  kInvalidSourceAddress,
  kCount,
};

inline constexpr size_t kDropReasonCount =
    static_cast<size_t>(DropReason::kCount);

// The metric label value: "receive_queue_full", "invalid_packet", ...
absl::string_view DropReasonName(DropReason reason);

enum class HandshakeFailure : uint8_t {
  kNone = 0,
  kTimeout,
  kUnauthorized,
  kInvalidMac,
  kDecryptFailed,
  kStaleTimestamp,
  kRateLimited,
  kAddressRejected,
  kCount,
};

inline constexpr size_t kHandshakeFailureCount =
    static_cast<size_t>(HandshakeFailure::kCount);

// The metric label value: "timeout", "unauthorized", ...
absl::string_view HandshakeFailureName(HandshakeFailure failure);

// The drop that a failed handshake message counts as.
DropReason DropReasonFor(HandshakeFailure failure);

}  // namespace snaptun::core

#endif  // SNAPTUN_TUNNEL_CORE_VERDICT_H_
