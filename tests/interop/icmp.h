// Builds an IPv4 ICMP echo request and recognises the matching reply: the
// payload the interop tests push through a tunnel so that the kernel behind
// wireguard-go, not our code, writes the answer.
#ifndef SNAPTUN_TESTS_INTEROP_ICMP_H_
#define SNAPTUN_TESTS_INTEROP_ICMP_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace snaptun::testing {

using Ipv4Address = std::array<uint8_t, 4>;

std::vector<uint8_t> IcmpEchoRequest(const Ipv4Address& from,
                                     const Ipv4Address& to, uint16_t id,
                                     uint16_t sequence,
                                     const std::string& payload);
// True when `packet` is the echo reply `to` -> `from` for that request.
bool IsIcmpEchoReply(const std::vector<uint8_t>& packet,
                     const Ipv4Address& from, const Ipv4Address& to,
                     uint16_t id, uint16_t sequence,
                     const std::string& payload);

}  // namespace snaptun::testing

#endif  // SNAPTUN_TESTS_INTEROP_ICMP_H_
