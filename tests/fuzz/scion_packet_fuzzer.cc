// Fuzz target: arbitrary bytes through the SCION packet view, as they come
// and with the version and PayloadLen repaired so that random input reaches
// the path, extension and L4 checks. What parses must describe itself
// consistently and stay inside the input; dispatch must stay inside the
// packet even for a view that was never parsed from it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "tunnel/scion/packet.h"

namespace {

using snaptun::scion::PacketView;

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckHost(const snaptun::scion::HostAddress& host, size_t end) {
  const size_t length =
      host.type == snaptun::scion::HostAddress::kIpv6 ? 16 : 4;
  Check(host.offset + length <= end);
}

void CheckView(absl::Span<const uint8_t> packet, const PacketView& v) {
  using snaptun::scion::L4;
  Check(v.header_length + v.payload_length == packet.size());
  Check(v.path_type == packet[v.path_type_offset]);
  CheckHost(v.dst, v.src.offset);
  CheckHost(v.src, v.path_offset);
  Check(v.path_offset + v.path_length == v.header_length);
  Check(v.header_length <= v.l4_offset && v.l4_offset <= packet.size());
  if (v.l4 == L4::kUdp) Check(v.l4_offset + 8 <= packet.size());
  if (v.l4 == L4::kScmp) Check(v.l4_offset + 4 <= packet.size());
  Check(v.scmp_quote_offset == 0 || (v.scmp_quote_offset > v.l4_offset &&
                                     v.scmp_quote_offset < packet.size()));
  const auto source = snaptun::scion::SourceEndpoint(v);
  if (v.src.type == snaptun::scion::HostAddress::kService) Check(!source);
  const auto destination = snaptun::scion::DispatchDestination(packet, v);
  if (v.dst.type == snaptun::scion::HostAddress::kService) {
    Check(!destination);
  }
}

void ParseAndCheck(absl::Span<const uint8_t> packet) {
  PacketView view;
  if (snaptun::scion::Parse(packet, view) ==
      snaptun::scion::ParseError::kNone) {
    CheckView(packet, view);
  }
}

// A view made of input bytes, not parsed from them.
PacketView ArbitraryView(const uint8_t* data, size_t size) {
  uint8_t raw[8] = {};
  for (size_t i = 0; i < size && i < sizeof(raw); ++i) raw[i] = data[i];
  PacketView view;
  view.l4 = static_cast<snaptun::scion::L4>(raw[0] % 4);
  view.dst.type = static_cast<snaptun::scion::HostAddress::Type>(raw[1] % 4);
  view.dst_port = static_cast<uint16_t>(raw[2] << 8 | raw[3]);
  view.scmp_type = raw[4];
  if (raw[5] & 1) view.scmp_identifier = raw[6];
  view.scmp_quote_offset = raw[7] % 64 == 63 ? ~size_t{0} : raw[7];
  return view;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::Span<const uint8_t> input(data, size);
  ParseAndCheck(input);
  snaptun::scion::DispatchDestination(input, ArbitraryView(data, size));
  if (size < snaptun::scion::kCommonHeaderSize) return 0;
  std::vector<uint8_t> repaired(data, data + size);
  repaired[0] &= 0x0f;
  const size_t header = size_t{repaired[5]} * 4;
  if (header <= size && size - header <= 0xffff) {
    repaired[6] = static_cast<uint8_t>((size - header) >> 8);
    repaired[7] = static_cast<uint8_t>(size - header);
  }
  ParseAndCheck(repaired);
  return 0;
}
