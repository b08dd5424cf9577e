// A bounds-checked, allocation-free view of one SCION datagram, for the
// gateway's packet policy and for dispatching packets from the network to
// tunnels. Layout after draft-dekater-scion-dataplane (common header, address
// header, path types, extension headers) and the SCMP section of
// draft-dekater-scion-controlplane (scionproto doc/protocols/scmp.rst for the
// error types it leaves out). Parse checks the structure only: no MAC, no
// checksum, no expiry.
#ifndef SNAPTUN_TUNNEL_SCION_PACKET_H_
#define SNAPTUN_TUNNEL_SCION_PACKET_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "tunnel/core/endpoint.h"
#include "tunnel/scion/isd_as.h"

namespace snaptun::scion {

inline constexpr size_t kCommonHeaderSize = 12;
// DstISD, DstAS, SrcISD, SrcAS: the fixed part of the address header.
inline constexpr size_t kIsdAsPairSize = 16;

// Assigned SCION protocol numbers (NextHdr values) the parser knows.
inline constexpr uint8_t kProtocolUdp = 17;
inline constexpr uint8_t kProtocolHopByHop = 200;
inline constexpr uint8_t kProtocolEndToEnd = 201;
inline constexpr uint8_t kProtocolScmp = 202;

enum class PathType : uint8_t {
  kEmpty = 0,
  kScion = 1,
  kOneHop = 2,
  kEpic = 3,
  kColibri = 4,
};

enum class ParseError : uint8_t {
  kNone = 0,
  // The datagram ends inside the common header, the address header or the
  // HdrLen * 4 bytes of SCION header.
  kTruncated,
  // Version is not 0.
  kBadVersion,
  // HdrLen too small for the address header, or the datagram is not exactly
  // HdrLen * 4 + PayloadLen bytes.
  kLengthMismatch,
  // A DT/DL or ST/SL pair other than IPv4 (0,0), IPv6 (0,3), service (1,0).
  kBadAddressType,
  // An Empty path with bytes, or a SCION path whose meta header disagrees
  // with its length or with itself.
  kBadPath,
  // An extension header out of order, repeated, or running past the end.
  kBadExtension,
  // A UDP or SCMP header shorter than its type requires.
  kBadL4,
};

absl::string_view ParseErrorName(ParseError error);

enum class L4 : uint8_t { kOther, kUdp, kScmp };

struct HostAddress {
  enum Type : uint8_t { kIpv4, kIpv6, kService };
  Type type = kIpv4;
  // IPv4 and service addresses use the first 4 bytes, the rest stay zero.
  std::array<uint8_t, 16> bytes{};
  // Byte offset of the address in the packet.
  size_t offset = 0;
};

// What Parse found. Offsets are from the start of the datagram.
struct PacketView {
  uint8_t next_header = 0;  // the common header's NextHdr
  uint8_t path_type = 0;    // raw; compare with PathType
  size_t path_type_offset = 8;
  IsdAs dst_ia, src_ia;
  HostAddress dst, src;
  size_t header_length = 0;   // HdrLen * 4: common + address + path
  size_t payload_length = 0;  // PayloadLen: extensions + L4
  size_t path_offset = 0, path_length = 0;
  L4 l4 = L4::kOther;
  uint8_t l4_protocol = 0;  // NextHdr after the extension headers
  size_t l4_offset = 0;     // first byte after the extension headers
  // UDP only.
  uint16_t src_port = 0, dst_port = 0;
  // SCMP only.
  uint8_t scmp_type = 0, scmp_code = 0;
  // Echo and traceroute request/reply (types 128-131).
  std::optional<uint16_t> scmp_identifier;
  // Error types (0-127): where the quoted offending packet starts; 0 when
  // the message quotes nothing.
  size_t scmp_quote_offset = 0;
};

// Parses `packet` into `out` (reset first). Never reads outside `packet`,
// allocates nothing, throws nothing. Checks: version 0; assigned address
// type/length pairs; HdrLen covers the address header and the datagram is
// exactly HdrLen * 4 + PayloadLen; an Empty path is empty; a SCION path's
// segment lengths are contiguous, non-zero in total, at most 64 hop fields,
// match the path length (4 + 8 * NumINF + 12 * NumHF), and CurrINF/CurrHF
// point into them. Other path types are accepted at any length (the policy
// decides about them). Hop-by-hop (first only) and end-to-end extensions are
// walked, at most one of each. UDP needs 8 bytes; SCMP needs its type's fixed
// part: 8 for echo, 24 for traceroute, 8 for errors except External Interface
// Down (20) and Internal Connectivity Down (28). Any other NextHdr is kOther.
ParseError Parse(absl::Span<const uint8_t> packet, PacketView& out);

// The sender as an endpoint: the source host (IPv4 or IPv6; a service address
// gives nullopt) with the UDP source port, or for SCMP echo/traceroute the
// identifier. Port 0 where the packet has no port: SCMP errors, unknown SCMP
// informational types and other L4 protocols; a policy comparing against it
// should then compare the IP only.
std::optional<core::Endpoint> SourceEndpoint(const PacketView& view);

// Where a packet from the network goes: the destination host (IPv4 or IPv6)
// with, for UDP, the destination port; for SCMP echo/traceroute, the
// identifier; for an SCMP error, the source port (UDP) or identifier (SCMP
// echo/traceroute) of the quoted offending packet, which was sent from that
// host. The quote is read leniently (it may be cut short; only its common and
// address headers, extensions and the first L4 bytes are needed). nullopt for
// a service destination, another L4 protocol, an unknown SCMP informational
// type or a quote that does not yield a port. Bounds-checks everything
// against `packet`, so a view that does not belong to it is harmless.
std::optional<core::Endpoint> DispatchDestination(
    absl::Span<const uint8_t> packet, const PacketView& view);

}  // namespace snaptun::scion

#endif  // SNAPTUN_TUNNEL_SCION_PACKET_H_
