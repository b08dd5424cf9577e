// IpSocketAddr encoding and strict decoding.
#include "tunnel/core/ip_socket_addr.h"

#include <cstring>

namespace snaptun::core {

std::array<uint8_t, kIpSocketAddrSize> EncodeIpSocketAddr(const Endpoint& e) {
  std::array<uint8_t, kIpSocketAddrSize> out{};
  out[0] = e.is_ipv4() ? 0x04 : 0x06;
  out[1] = 0;
  out[2] = static_cast<uint8_t>(e.port() >> 8);
  out[3] = static_cast<uint8_t>(e.port());
  std::memcpy(out.data() + 4, e.address().data(), 16);
  return out;
}

std::optional<Endpoint> DecodeIpSocketAddr(absl::Span<const uint8_t> bytes) {
  if (bytes.size() != kIpSocketAddrSize || bytes[1] != 0) return std::nullopt;
  const uint16_t port = static_cast<uint16_t>(bytes[2] << 8 | bytes[3]);
  std::array<uint8_t, 16> address;
  std::memcpy(address.data(), bytes.data() + 4, 16);
  if (bytes[0] == 0x04) {
    for (int i = 0; i < 12; ++i) {
      if (address[i] != 0) return std::nullopt;
    }
    return Endpoint::Ipv4({address[12], address[13], address[14], address[15]},
                          port);
  }
  if (bytes[0] == 0x06) return Endpoint::Ipv6(address, port);
  return std::nullopt;
}

}  // namespace snaptun::core
