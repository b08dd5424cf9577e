// SCION packet parsing: the header walk, the path checks, extensions, UDP and
// SCMP, and where an SCMP error's quoted packet came from.
#include "tunnel/scion/packet.h"

namespace snaptun::scion {
namespace {

constexpr size_t kPathMetaSize = 4;
constexpr size_t kInfoFieldSize = 8;
constexpr size_t kHopFieldSize = 12;
constexpr size_t kMaxHopFields = 64;
constexpr size_t kUdpHeaderSize = 8;
constexpr size_t kScmpHeaderSize = 4;

uint16_t Load16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

uint32_t Load32(const uint8_t* p) {
  return uint32_t{Load16(p)} << 16 | Load16(p + 2);
}

uint64_t Load48(const uint8_t* p) {
  return uint64_t{Load16(p)} << 32 | Load32(p + 2);
}

// The byte length of an assigned (type, length code) pair, 0 if unassigned.
size_t HostLength(uint8_t type, uint8_t code, HostAddress::Type& out) {
  if (type == 0 && code == 0) {
    out = HostAddress::kIpv4;
    return 4;
  }
  if (type == 0 && code == 3) {
    out = HostAddress::kIpv6;
    return 16;
  }
  if (type == 1 && code == 0) {
    out = HostAddress::kService;
    return 4;
  }
  return 0;
}

struct AddressLayout {
  HostAddress::Type dst_type = HostAddress::kIpv4;
  HostAddress::Type src_type = HostAddress::kIpv4;
  size_t dst_length = 0;
  size_t src_length = 0;
  size_t end = 0;  // the offset where the path header starts
};

// `flags` is byte 9 of the common header: DT, DL, ST, SL, two bits each.
bool DecodeAddressLayout(uint8_t flags, AddressLayout& out) {
  out.dst_length = HostLength(flags >> 6, (flags >> 4) & 3, out.dst_type);
  out.src_length = HostLength((flags >> 2) & 3, flags & 3, out.src_type);
  out.end =
      kCommonHeaderSize + kIsdAsPairSize + out.dst_length + out.src_length;
  return out.dst_length != 0 && out.src_length != 0;
}

void ReadHost(const uint8_t* packet, size_t offset, HostAddress::Type type,
              size_t length, HostAddress& out) {
  out.type = type;
  out.offset = offset;
  for (size_t i = 0; i < length; ++i) out.bytes[i] = packet[offset + i];
}

// The caller has checked that `layout.end` bytes are present.
void ReadAddresses(const uint8_t* p, const AddressLayout& layout,
                   PacketView& out) {
  out.dst_ia = IsdAs{Load16(p + 12), Load48(p + 14)};
  out.src_ia = IsdAs{Load16(p + 20), Load48(p + 22)};
  const size_t host = kCommonHeaderSize + kIsdAsPairSize;
  ReadHost(p, host, layout.dst_type, layout.dst_length, out.dst);
  ReadHost(p, host + layout.dst_length, layout.src_type, layout.src_length,
           out.src);
}

// Common and address header, HdrLen and PayloadLen against the datagram.
ParseError ParseHeader(absl::Span<const uint8_t> packet, PacketView& out) {
  if (packet.size() < kCommonHeaderSize) return ParseError::kTruncated;
  const uint8_t* p = packet.data();
  if (p[0] >> 4 != 0) return ParseError::kBadVersion;
  AddressLayout layout;
  if (!DecodeAddressLayout(p[9], layout)) return ParseError::kBadAddressType;
  if (packet.size() < layout.end) return ParseError::kTruncated;
  out.next_header = p[4];
  out.header_length = size_t{p[5]} * 4;
  out.payload_length = Load16(p + 6);
  out.path_type = p[8];
  ReadAddresses(p, layout, out);
  if (out.header_length < layout.end) return ParseError::kLengthMismatch;
  if (packet.size() < out.header_length) return ParseError::kTruncated;
  if (packet.size() != out.header_length + out.payload_length) {
    return ParseError::kLengthMismatch;
  }
  out.path_offset = layout.end;
  out.path_length = out.header_length - layout.end;
  return ParseError::kNone;
}

// The SCION path type: PathMetaHdr, then NumINF info fields and NumHF hop
// fields, as the segment lengths in the meta header say.
ParseError CheckScionPath(absl::Span<const uint8_t> path) {
  if (path.size() < kPathMetaSize) return ParseError::kBadPath;
  const uint32_t meta = Load32(path.data());
  const size_t curr_inf = meta >> 30;
  const size_t curr_hf = (meta >> 24) & 0x3f;
  const size_t seg_len[3] = {(meta >> 12) & 0x3f, (meta >> 6) & 0x3f,
                             meta & 0x3f};
  size_t num_inf = 0;
  size_t num_hf = 0;
  for (size_t i = 0; i < 3; ++i) {
    if (seg_len[i] == 0) continue;
    if (i != num_inf) return ParseError::kBadPath;  // follows an empty one
    ++num_inf;
    num_hf += seg_len[i];
  }
  if (num_inf == 0 || num_hf > kMaxHopFields) return ParseError::kBadPath;
  if (path.size() !=
      kPathMetaSize + kInfoFieldSize * num_inf + kHopFieldSize * num_hf) {
    return ParseError::kBadPath;
  }
  if (curr_inf >= num_inf) return ParseError::kBadPath;
  size_t segment_start = 0;
  for (size_t i = 0; i < curr_inf; ++i) segment_start += seg_len[i];
  if (curr_hf < segment_start || curr_hf >= segment_start + seg_len[curr_inf]) {
    return ParseError::kBadPath;
  }
  return ParseError::kNone;
}

ParseError CheckPath(uint8_t path_type, absl::Span<const uint8_t> path) {
  switch (static_cast<PathType>(path_type)) {
    case PathType::kEmpty:
      return path.empty() ? ParseError::kNone : ParseError::kBadPath;
    case PathType::kScion:
      return CheckScionPath(path);
    default:
      return ParseError::kNone;
  }
}

// Steps `offset` and `next` over the extension headers that start at
// `offset` (at most packet.size()): hop-by-hop only first, at most one
// end-to-end, each (ExtLen + 1) * 4 bytes and inside the packet.
ParseError WalkExtensions(absl::Span<const uint8_t> packet, size_t& offset,
                          uint8_t& next) {
  bool first = true;
  bool seen_end_to_end = false;
  while (next == kProtocolHopByHop || next == kProtocolEndToEnd) {
    const bool hop_by_hop = next == kProtocolHopByHop;
    if (hop_by_hop ? !first : seen_end_to_end) {
      return ParseError::kBadExtension;
    }
    if (packet.size() - offset < 2) return ParseError::kBadExtension;
    const size_t length = (size_t{packet[offset + 1]} + 1) * 4;
    if (packet.size() - offset < length) return ParseError::kBadExtension;
    next = packet[offset];
    offset += length;
    first = false;
    seen_end_to_end = seen_end_to_end || !hop_by_hop;
  }
  return ParseError::kNone;
}

// Echo and traceroute request and reply carry an identifier.
bool HasIdentifier(uint8_t scmp_type) {
  return scmp_type >= 128 && scmp_type <= 131;
}

// The fixed part of an SCMP message of `type`: what precedes the data of an
// informational message or the quote of an error. Unknown error types are
// taken to have the common 8 bytes, as the control-plane draft says.
size_t ScmpFixedLength(uint8_t type) {
  switch (type) {
    case 5:  // External Interface Down: ISD-AS, 64-bit interface ID.
      return kScmpHeaderSize + 8 + 8;
    case 6:  // Internal Connectivity Down: ISD-AS, two interface IDs.
      return kScmpHeaderSize + 8 + 16;
    case 128:  // Echo request and reply: identifier, sequence number.
    case 129:
      return kScmpHeaderSize + 4;
    case 130:  // Traceroute request and reply: also ISD-AS, interface ID.
    case 131:
      return kScmpHeaderSize + 4 + 8 + 8;
    default:
      return type < 128 ? kScmpHeaderSize + 4 : kScmpHeaderSize;
  }
}

ParseError ParseScmp(absl::Span<const uint8_t> packet, size_t offset,
                     PacketView& out) {
  const size_t available = packet.size() - offset;
  if (available < kScmpHeaderSize) return ParseError::kBadL4;
  const uint8_t type = packet[offset];
  const size_t fixed = ScmpFixedLength(type);
  if (available < fixed) return ParseError::kBadL4;
  out.l4 = L4::kScmp;
  out.scmp_type = type;
  out.scmp_code = packet[offset + 1];
  if (HasIdentifier(type)) {
    out.scmp_identifier = Load16(packet.data() + offset + kScmpHeaderSize);
  } else if (type < 128 && available > fixed) {
    out.scmp_quote_offset = offset + fixed;
  }
  return ParseError::kNone;
}

ParseError ParseL4(absl::Span<const uint8_t> packet, size_t offset,
                   uint8_t protocol, PacketView& out) {
  out.l4_protocol = protocol;
  out.l4_offset = offset;
  if (protocol == kProtocolScmp) return ParseScmp(packet, offset, out);
  if (protocol != kProtocolUdp) return ParseError::kNone;  // kOther
  if (packet.size() - offset < kUdpHeaderSize) return ParseError::kBadL4;
  out.l4 = L4::kUdp;
  out.src_port = Load16(packet.data() + offset);
  out.dst_port = Load16(packet.data() + offset + 2);
  return ParseError::kNone;
}

std::optional<core::Endpoint> ToEndpoint(const HostAddress& host,
                                         uint16_t port) {
  const std::array<uint8_t, 16>& b = host.bytes;
  switch (host.type) {
    case HostAddress::kIpv4:
      return core::Endpoint::Ipv4({b[0], b[1], b[2], b[3]}, port);
    case HostAddress::kIpv6:
      return core::Endpoint::Ipv6(b, port);
    case HostAddress::kService:
      return std::nullopt;
  }
  return std::nullopt;
}

// The L4 source port (UDP) or identifier (SCMP echo/traceroute) of a quoted
// packet that may be cut short anywhere after its first L4 bytes.
std::optional<uint16_t> QuotedSourcePort(absl::Span<const uint8_t> quote) {
  if (quote.size() < kCommonHeaderSize || quote[0] >> 4 != 0) {
    return std::nullopt;
  }
  AddressLayout layout;
  if (!DecodeAddressLayout(quote[9], layout)) return std::nullopt;
  size_t offset = size_t{quote[5]} * 4;
  if (offset < layout.end || offset > quote.size()) return std::nullopt;
  uint8_t next = quote[4];
  if (WalkExtensions(quote, offset, next) != ParseError::kNone) {
    return std::nullopt;
  }
  const size_t available = quote.size() - offset;
  const uint8_t* l4 = quote.data() + offset;
  if (next == kProtocolUdp && available >= 2) return Load16(l4);
  if (next == kProtocolScmp && available >= kScmpHeaderSize + 2 &&
      HasIdentifier(l4[0])) {
    return Load16(l4 + kScmpHeaderSize);
  }
  return std::nullopt;
}

std::optional<uint16_t> ScmpDispatchPort(absl::Span<const uint8_t> packet,
                                         const PacketView& view) {
  if (view.scmp_identifier.has_value()) return view.scmp_identifier;
  if (view.scmp_type >= 128 || view.scmp_quote_offset == 0 ||
      view.scmp_quote_offset >= packet.size()) {
    return std::nullopt;
  }
  return QuotedSourcePort(packet.subspan(view.scmp_quote_offset));
}

}  // namespace

absl::string_view ParseErrorName(ParseError error) {
  switch (error) {
    case ParseError::kNone:
      return "none";
    case ParseError::kTruncated:
      return "truncated";
    case ParseError::kBadVersion:
      return "bad_version";
    case ParseError::kLengthMismatch:
      return "length_mismatch";
    case ParseError::kBadAddressType:
      return "bad_address_type";
    case ParseError::kBadPath:
      return "bad_path";
    case ParseError::kBadExtension:
      return "bad_extension";
    case ParseError::kBadL4:
      return "bad_l4";
  }
  return "unknown";
}

ParseError Parse(absl::Span<const uint8_t> packet, PacketView& out) {
  out = PacketView{};
  ParseError error = ParseHeader(packet, out);
  if (error != ParseError::kNone) return error;
  error = CheckPath(out.path_type,
                    packet.subspan(out.path_offset, out.path_length));
  if (error != ParseError::kNone) return error;
  size_t offset = out.header_length;
  uint8_t next = out.next_header;
  error = WalkExtensions(packet, offset, next);
  if (error != ParseError::kNone) return error;
  return ParseL4(packet, offset, next, out);
}

std::optional<core::Endpoint> SourceEndpoint(const PacketView& view) {
  uint16_t port = 0;
  if (view.l4 == L4::kUdp) {
    port = view.src_port;
  } else if (view.l4 == L4::kScmp && view.scmp_identifier.has_value()) {
    port = *view.scmp_identifier;
  }
  return ToEndpoint(view.src, port);
}

std::optional<core::Endpoint> DispatchDestination(
    absl::Span<const uint8_t> packet, const PacketView& view) {
  switch (view.l4) {
    case L4::kUdp:
      return ToEndpoint(view.dst, view.dst_port);
    case L4::kScmp: {
      const std::optional<uint16_t> port = ScmpDispatchPort(packet, view);
      if (!port.has_value()) return std::nullopt;
      return ToEndpoint(view.dst, *port);
    }
    case L4::kOther:
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace snaptun::scion
