// The 20-byte `IpSocketAddr` that a SNAP handshake response seals: byte 0
// the IP version (4 or 6), byte 1 zero, bytes 2-3 the port big-endian, bytes
// 4-19 the address (IPv4 in the last four bytes after twelve zeros).
#ifndef SNAPTUN_TUNNEL_CORE_IP_SOCKET_ADDR_H_
#define SNAPTUN_TUNNEL_CORE_IP_SOCKET_ADDR_H_

#include <array>
#include <cstdint>
#include <optional>

#include "absl/types/span.h"
#include "tunnel/core/endpoint.h"

namespace snaptun::core {

inline constexpr size_t kIpSocketAddrSize = 20;

std::array<uint8_t, kIpSocketAddrSize> EncodeIpSocketAddr(const Endpoint& e);

// nullopt for a wrong size, an unknown version, a non-zero reserved byte or
// an IPv4 address whose twelve leading bytes are not zero.
std::optional<Endpoint> DecodeIpSocketAddr(absl::Span<const uint8_t> bytes);

}  // namespace snaptun::core

#endif  // SNAPTUN_TUNNEL_CORE_IP_SOCKET_ADDR_H_
