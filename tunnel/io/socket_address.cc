// Endpoint <-> sockaddr_in / sockaddr_in6.
#include "tunnel/io/socket_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <cstring>

namespace snaptun::io {

SocketAddress ToSocketAddress(const core::Endpoint& endpoint) {
  SocketAddress out;
  if (endpoint.is_ipv4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out.storage);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(endpoint.port());
    std::memcpy(&sin->sin_addr, endpoint.address().data() + 12, 4);
    out.length = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(endpoint.port());
    std::memcpy(&sin6->sin6_addr, endpoint.address().data(), 16);
    out.length = sizeof(sockaddr_in6);
  }
  return out;
}

std::optional<core::Endpoint> FromSocketAddress(const sockaddr* address,
                                                socklen_t length) {
  if (address->sa_family == AF_INET && length >= sizeof(sockaddr_in)) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(address);
    std::array<uint8_t, 4> bytes;
    std::memcpy(bytes.data(), &sin->sin_addr, 4);
    return core::Endpoint::Ipv4(bytes, ntohs(sin->sin_port));
  }
  if (address->sa_family == AF_INET6 && length >= sizeof(sockaddr_in6)) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(address);
    std::array<uint8_t, 16> bytes;
    std::memcpy(bytes.data(), &sin6->sin6_addr, 16);
    return core::Endpoint::Ipv6(bytes, ntohs(sin6->sin6_port));
  }
  return std::nullopt;
}

}  // namespace snaptun::io
