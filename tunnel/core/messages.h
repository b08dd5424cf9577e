// WireGuard's four message types as byte layouts, with the SNAP variant of
// the handshake response (112 bytes: a sealed 20-byte IpSocketAddr where
// WireGuard has 16 bytes of `encrypted_nothing`). Classification checks the
// type, the three reserved bytes (zero, as the kernel and wireguard-go
// require) and the exact size; nothing here allocates or decrypts.
#ifndef SNAPTUN_TUNNEL_CORE_MESSAGES_H_
#define SNAPTUN_TUNNEL_CORE_MESSAGES_H_

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/types/span.h"
#include "tunnel/crypto/endian.h"

namespace snaptun::core {

// The wire dialect of a tunnel.
enum class Mode : uint8_t {
  kSnap,       // 112-byte response carrying the observed address.
  kWireGuard,  // 92-byte response, plain WireGuard v1.
};

enum class MessageType : uint8_t {
  kInitiation = 1,
  kResponse = 2,
  kCookieReply = 3,
  kTransport = 4,
};

// Handshake initiation, 148 bytes.
namespace initiation {
inline constexpr size_t kSenderIndex = 4;
inline constexpr size_t kEphemeral = 8;
inline constexpr size_t kStatic = 40;     // 32 + 16 tag.
inline constexpr size_t kTimestamp = 88;  // 12 + 16 tag.
inline constexpr size_t kMac1 = 116;
inline constexpr size_t kMac2 = 132;
inline constexpr size_t kSize = 148;
}  // namespace initiation

// Handshake response: 92 bytes (WireGuard) or 112 bytes (SNAP).
namespace response {
inline constexpr size_t kSenderIndex = 4;
inline constexpr size_t kReceiverIndex = 8;
inline constexpr size_t kEphemeral = 12;
inline constexpr size_t kSealed = 44;  // 16 (empty + tag) or 36 (addr + tag).
constexpr size_t SealedSize(Mode mode) { return mode == Mode::kSnap ? 36 : 16; }
constexpr size_t Mac1(Mode mode) { return kSealed + SealedSize(mode); }
constexpr size_t Mac2(Mode mode) { return Mac1(mode) + 16; }
constexpr size_t Size(Mode mode) { return Mac2(mode) + 16; }
}  // namespace response

// Cookie reply, 64 bytes.
namespace cookie_reply {
inline constexpr size_t kReceiverIndex = 4;
inline constexpr size_t kNonce = 8;
inline constexpr size_t kCookie = 32;  // 16 + 16 tag.
inline constexpr size_t kSize = 64;
}  // namespace cookie_reply

// Transport data: 16-byte header, then payload + 16-byte tag.
namespace transport {
inline constexpr size_t kReceiverIndex = 4;
inline constexpr size_t kCounter = 8;
inline constexpr size_t kHeaderSize = 16;
inline constexpr size_t kOverhead = 32;
inline constexpr size_t kMinSize = 32;  // A keepalive.
}  // namespace transport

// The largest UDP payload the protocol accepts or produces; anything larger
// is an `oversize` drop.
inline constexpr size_t kMaxDatagramSize = 65535 - 8 - 20;

// The type of `packet` when its header and size are valid for `mode`.
std::optional<MessageType> Classify(absl::Span<const uint8_t> packet,
                                    Mode mode);

// Writes the four-byte header (type, three zero bytes).
inline void WriteHeader(uint8_t* out, MessageType type) {
  out[0] = static_cast<uint8_t>(type);
  out[1] = out[2] = out[3] = 0;
}

inline uint32_t ReadIndex(const uint8_t* p) {
  return crypto::LoadLittleEndian<uint32_t>(p);
}
inline void WriteIndex(uint8_t* p, uint32_t index) {
  crypto::StoreLittleEndian<uint32_t>(p, index);
}

}  // namespace snaptun::core

#endif  // SNAPTUN_TUNNEL_CORE_MESSAGES_H_
