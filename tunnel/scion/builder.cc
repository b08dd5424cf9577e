// Builds SCION datagrams for tests, field by field as the data-plane draft
// lays them out.
#include "tunnel/scion/builder.h"

namespace snaptun::scion {
namespace {

void Put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

void Put32(std::vector<uint8_t>& out, uint32_t v) {
  Put16(out, static_cast<uint16_t>(v >> 16));
  Put16(out, static_cast<uint16_t>(v));
}

void Put48(std::vector<uint8_t>& out, uint64_t v) {
  Put16(out, static_cast<uint16_t>(v >> 32));
  Put32(out, static_cast<uint32_t>(v));
}

void PutHost(std::vector<uint8_t>& out, const core::Endpoint& e) {
  const auto& a = e.address();
  out.insert(out.end(), e.is_ipv4() ? a.begin() + 12 : a.begin(), a.end());
}

// PathMetaHdr (CurrINF 0, CurrHF 0, Seg0Len 2), an info field with the
// construction-direction flag, and two hop fields 0->1 and 2->0.
std::vector<uint8_t> TwoHopPath() {
  std::vector<uint8_t> path;
  Put32(path, 2u << 12);
  Put32(path, 0x0100abcd);  // flags C, RSV, SegID
  Put32(path, 0x65000000);  // timestamp
  for (uint16_t ingress : {0, 2}) {
    Put16(path, 0x003f);  // flags, ExpTime 63
    Put16(path, ingress);
    Put16(path, ingress == 0 ? 1 : 0);
    path.insert(path.end(), 6, 0xaa);  // MAC
  }
  return path;
}

std::vector<uint8_t> BuildPacket(const BuildSpec& spec, uint8_t next_header,
                                 absl::Span<const uint8_t> l4) {
  const std::vector<uint8_t> path =
      spec.path_type == 1 ? TwoHopPath() : std::vector<uint8_t>();
  const size_t dl = spec.dst.is_ipv4() ? 0 : 3;
  const size_t sl = spec.src.is_ipv4() ? 0 : 3;
  const size_t header = 12 + 16 + 4 * (dl + 1) + 4 * (sl + 1) + path.size();
  std::vector<uint8_t> out;
  Put32(out, 0x00000001);  // version 0, traffic class 0, flow ID 1
  out.push_back(next_header);
  out.push_back(static_cast<uint8_t>(header / 4));
  Put16(out, static_cast<uint16_t>(l4.size()));
  out.push_back(spec.path_type);
  out.push_back(static_cast<uint8_t>(dl << 4 | sl));  // DT = ST = 0
  Put16(out, 0);
  Put16(out, spec.dst_ia.isd);
  Put48(out, spec.dst_ia.as);
  Put16(out, spec.src_ia.isd);
  Put48(out, spec.src_ia.as);
  PutHost(out, spec.dst);
  PutHost(out, spec.src);
  out.insert(out.end(), path.begin(), path.end());
  out.insert(out.end(), l4.begin(), l4.end());
  return out;
}

}  // namespace

std::vector<uint8_t> BuildUdp(const BuildSpec& spec) {
  std::vector<uint8_t> l4;
  Put16(l4, spec.src.port());
  Put16(l4, spec.dst.port());
  Put16(l4, static_cast<uint16_t>(8 + spec.payload.size()));
  Put16(l4, 0);  // checksum
  l4.insert(l4.end(), spec.payload.begin(), spec.payload.end());
  return BuildPacket(spec, 17, l4);
}

std::vector<uint8_t> BuildScmpEcho(const BuildSpec& spec, uint8_t type,
                                   uint16_t identifier, uint16_t seq) {
  std::vector<uint8_t> l4 = {type, 0, 0, 0};
  Put16(l4, identifier);
  Put16(l4, seq);
  l4.insert(l4.end(), spec.payload.begin(), spec.payload.end());
  return BuildPacket(spec, 202, l4);
}

std::vector<uint8_t> BuildScmpError(const BuildSpec& spec, uint8_t type,
                                    uint8_t code,
                                    absl::Span<const uint8_t> quote) {
  std::vector<uint8_t> l4 = {type, code, 0, 0};
  const size_t fixed = type == 5 ? 16 : type == 6 ? 24 : 4;
  l4.insert(l4.end(), fixed, 0);
  l4.insert(l4.end(), quote.begin(), quote.end());
  return BuildPacket(spec, 202, l4);
}

}  // namespace snaptun::scion
