// Message classification by header and exact size.
#include "tunnel/core/messages.h"

namespace snaptun::core {

std::optional<MessageType> Classify(absl::Span<const uint8_t> packet,
                                    Mode mode) {
  if (packet.size() < 4 || packet.size() > kMaxDatagramSize) {
    return std::nullopt;
  }
  if (packet[1] != 0 || packet[2] != 0 || packet[3] != 0) return std::nullopt;
  switch (packet[0]) {
    case 1:
      if (packet.size() == initiation::kSize) return MessageType::kInitiation;
      break;
    case 2:
      if (packet.size() == response::Size(mode)) return MessageType::kResponse;
      break;
    case 3:
      if (packet.size() == cookie_reply::kSize) {
        return MessageType::kCookieReply;
      }
      break;
    case 4:
      if (packet.size() >= transport::kMinSize) return MessageType::kTransport;
      break;
    default:
      break;
  }
  return std::nullopt;
}

}  // namespace snaptun::core
