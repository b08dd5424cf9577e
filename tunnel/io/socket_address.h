// Conversion between the core's Endpoint and the kernel's socket addresses.
// IPv4-mapped IPv6 sources (dual-stack sockets) become plain IPv4 endpoints,
// so the same peer always has one key (reference defect W34).
#ifndef SNAPTUN_TUNNEL_IO_SOCKET_ADDRESS_H_
#define SNAPTUN_TUNNEL_IO_SOCKET_ADDRESS_H_

#include <sys/socket.h>

#include <optional>

#include "tunnel/core/endpoint.h"

namespace snaptun::io {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const {
    return reinterpret_cast<const sockaddr*>(&storage);
  }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
};

SocketAddress ToSocketAddress(const core::Endpoint& endpoint);
std::optional<core::Endpoint> FromSocketAddress(const sockaddr* address,
                                                socklen_t length);

}  // namespace snaptun::io

#endif  // SNAPTUN_TUNNEL_IO_SOCKET_ADDRESS_H_
