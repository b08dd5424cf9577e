// RFC 791 header and RFC 792 echo, with the Internet checksum.
#include "tests/interop/icmp.h"

#include <algorithm>

namespace snaptun::testing {
namespace {

uint16_t Checksum(const uint8_t* data, size_t size) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < size; i += 2) sum += data[i] << 8 | data[i + 1];
  if (size % 2 == 1) sum += data[size - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

}  // namespace

std::vector<uint8_t> IcmpEchoRequest(const Ipv4Address& from,
                                     const Ipv4Address& to, uint16_t id,
                                     uint16_t sequence,
                                     const std::string& payload) {
  std::vector<uint8_t> p(28 + payload.size(), 0);
  p[0] = 0x45;
  Put16(&p[2], static_cast<uint16_t>(p.size()));
  Put16(&p[4], id);
  p[8] = 64;  // TTL
  p[9] = 1;   // ICMP
  std::copy(from.begin(), from.end(), p.begin() + 12);
  std::copy(to.begin(), to.end(), p.begin() + 16);
  Put16(&p[10], Checksum(p.data(), 20));
  p[20] = 8;  // Echo request.
  Put16(&p[24], id);
  Put16(&p[26], sequence);
  std::copy(payload.begin(), payload.end(), p.begin() + 28);
  Put16(&p[22], Checksum(p.data() + 20, p.size() - 20));
  return p;
}

bool IsIcmpEchoReply(const std::vector<uint8_t>& p, const Ipv4Address& from,
                     const Ipv4Address& to, uint16_t id, uint16_t sequence,
                     const std::string& payload) {
  if (p.size() < 28 || p[0] != 0x45 || p[9] != 1 || p[20] != 0) return false;
  if (!std::equal(to.begin(), to.end(), p.begin() + 12) ||
      !std::equal(from.begin(), from.end(), p.begin() + 16)) {
    return false;
  }
  if ((p[24] << 8 | p[25]) != id || (p[26] << 8 | p[27]) != sequence) {
    return false;
  }
  if (Checksum(p.data() + 20, p.size() - 20) != 0) return false;
  return std::string(p.begin() + 28, p.end()) == payload;
}

}  // namespace snaptun::testing
