// Label names of drop reasons and handshake failures.
#include "tunnel/core/verdict.h"

namespace snaptun::core {

absl::string_view DropReasonName(DropReason reason) {
  switch (reason) {
    case DropReason::kNone:
      return "none";
    case DropReason::kReceiveQueueFull:
      return "receive_queue_full";
    case DropReason::kStreamBackpressure:
      return "stream_backpressure";
    case DropReason::kInvalidPacket:
      return "invalid_packet";
    case DropReason::kDecryptFailed:
      return "decrypt_failed";
    case DropReason::kReplay:
      return "replay";
    case DropReason::kUnauthorized:
      return "unauthorized";
    case DropReason::kNoTunnel:
      return "no_tunnel";
    case DropReason::kHandshakeQueueFull:
      return "handshake_queue_full";
    case DropReason::kSendError:
      return "send_error";
    case DropReason::kOversize:
      return "oversize";
    case DropReason::kRateLimited:
      return "rate_limited";
    case DropReason::kSocketOverflow:
      return "socket_overflow";
    case DropReason::kSendBufferFull:
      return "send_buffer_full";
    case DropReason::kSendNoBufferSpace:
      return "send_no_buffer_space";
    case DropReason::kMalformedPacket:
      return "malformed_packet";
    case DropReason::kInvalidPathType:
      return "invalid_path_type";
    case DropReason::kInvalidSourceAddress:
      return "invalid_source_address";
    case DropReason::kCount:
      break;
  }
  return "unknown";
}

absl::string_view HandshakeFailureName(HandshakeFailure failure) {
  switch (failure) {
    case HandshakeFailure::kNone:
      return "none";
    case HandshakeFailure::kTimeout:
      return "timeout";
    case HandshakeFailure::kUnauthorized:
      return "unauthorized";
    case HandshakeFailure::kInvalidMac:
      return "invalid_mac";
    case HandshakeFailure::kDecryptFailed:
      return "decrypt_failed";
    case HandshakeFailure::kStaleTimestamp:
      return "stale_timestamp";
    case HandshakeFailure::kRateLimited:
      return "rate_limited";
    case HandshakeFailure::kAddressRejected:
      return "address_rejected";
    case HandshakeFailure::kCount:
      break;
  }
  return "unknown";
}

DropReason DropReasonFor(HandshakeFailure failure) {
  switch (failure) {
    case HandshakeFailure::kNone:
      return DropReason::kNone;
    case HandshakeFailure::kUnauthorized:
      return DropReason::kUnauthorized;
    case HandshakeFailure::kDecryptFailed:
      return DropReason::kDecryptFailed;
    case HandshakeFailure::kRateLimited:
      return DropReason::kRateLimited;
    case HandshakeFailure::kStaleTimestamp:
      return DropReason::kReplay;
    case HandshakeFailure::kTimeout:
    case HandshakeFailure::kInvalidMac:
    case HandshakeFailure::kAddressRejected:
    case HandshakeFailure::kCount:
      break;
  }
  return DropReason::kInvalidPacket;
}

}  // namespace snaptun::core
