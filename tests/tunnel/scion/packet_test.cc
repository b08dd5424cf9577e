// The SCION packet view: hand-written datagrams checked field by field
// against the data-plane draft's layout, builder round trips over IPv4, IPv6,
// Empty and SCION paths, one crafted packet per ParseError (and every prefix
// of valid packets), extension headers, UDP and SCMP, where packets come from
// and go to, and ISD-AS text.
#include "tunnel/scion/packet.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "absl/hash/hash.h"
#include "tunnel/scion/builder.h"
#include "tunnel/scion/isd_as.h"

namespace snaptun::scion {

void PrintTo(ParseError error, std::ostream* os) {
  *os << ParseErrorName(error);
}

namespace {

using Bytes = std::vector<uint8_t>;

const IsdAs kLocalIa{1, 0xff0000000110};
const IsdAs kRemoteIa{1, 0xff0000000111};

core::Endpoint Ep(const char* text) { return *core::Endpoint::Parse(text); }

std::string Str(const std::optional<core::Endpoint>& e) {
  return e.has_value() ? e->ToString() : "none";
}

// A packet from the remote host to the local one.
BuildSpec Spec(const char* src, const char* dst, uint8_t path_type = 1) {
  BuildSpec spec;
  spec.src_ia = kRemoteIa;
  spec.dst_ia = kLocalIa;
  spec.src = Ep(src);
  spec.dst = Ep(dst);
  spec.path_type = path_type;
  spec.payload = {1, 2, 3, 4, 5};
  return spec;
}

BuildSpec V4Spec(uint8_t path_type = 1) {
  return Spec("192.0.2.7:40000", "10.0.0.1:30000", path_type);
}

BuildSpec V6Spec(uint8_t path_type = 1) {
  return Spec("[2001:db8::7]:40000", "[2001:db8::1]:30000", path_type);
}

ParseError ParseOf(const Bytes& packet) {
  PacketView view;
  return Parse(packet, view);
}

PacketView MustParse(const Bytes& packet) {
  PacketView view;
  EXPECT_EQ(Parse(packet, view), ParseError::kNone);
  return view;
}

size_t HeaderLength(const Bytes& packet) { return size_t{packet[5]} * 4; }

void SetPayloadLength(Bytes& packet, size_t length) {
  packet[6] = static_cast<uint8_t>(length >> 8);
  packet[7] = static_cast<uint8_t>(length);
}

// Cuts or pads the payload to `length` bytes and says so in PayloadLen.
Bytes WithPayloadSize(Bytes packet, size_t length) {
  packet.resize(HeaderLength(packet) + length, 0);
  SetPayloadLength(packet, length);
  return packet;
}

// The same packet with another path header.
Bytes WithPath(const Bytes& packet, uint8_t path_type, const Bytes& path) {
  const PacketView view = MustParse(packet);
  Bytes out(packet.begin(), packet.begin() + view.path_offset);
  out.insert(out.end(), path.begin(), path.end());
  out.insert(out.end(), packet.begin() + view.header_length, packet.end());
  out[5] = static_cast<uint8_t>((view.path_offset + path.size()) / 4);
  out[8] = path_type;
  return out;
}

uint32_t Meta(uint32_t curr_inf, uint32_t curr_hf, uint32_t seg0, uint32_t seg1,
              uint32_t seg2) {
  return curr_inf << 30 | curr_hf << 24 | seg0 << 12 | seg1 << 6 | seg2;
}

// A SCION path: the meta header, then zeroed info and hop fields.
Bytes ScionPath(uint32_t meta, size_t num_inf, size_t num_hf) {
  Bytes path = {static_cast<uint8_t>(meta >> 24),
                static_cast<uint8_t>(meta >> 16),
                static_cast<uint8_t>(meta >> 8), static_cast<uint8_t>(meta)};
  path.resize(4 + 8 * num_inf + 12 * num_hf, 0);
  return path;
}

struct Ext {
  uint8_t type;  // 200 or 201
  uint8_t ext_len;
};

// Inserts a chain of extension headers (padded with PadN) before the L4
// header, keeping the L4 protocol at the end of the chain.
Bytes WithExtensions(Bytes packet, const std::vector<Ext>& chain) {
  const uint8_t l4 = packet[4];
  Bytes bytes;
  for (size_t i = 0; i < chain.size(); ++i) {
    Bytes ext((size_t{chain[i].ext_len} + 1) * 4, 0);
    ext[0] = i + 1 < chain.size() ? chain[i + 1].type : l4;
    ext[1] = chain[i].ext_len;
    ext[2] = 1;  // PadN
    ext[3] = static_cast<uint8_t>(ext.size() - 4);
    bytes.insert(bytes.end(), ext.begin(), ext.end());
  }
  const size_t header = HeaderLength(packet);
  packet[4] = chain.empty() ? l4 : chain[0].type;
  packet.insert(packet.begin() + header, bytes.begin(), bytes.end());
  SetPayloadLength(packet, packet.size() - header);
  return packet;
}

// --- Hand-written packets against the specification's layout --------------

TEST(ScionPacketTest, HandWrittenUdpOverScionPathFieldByField) {
  const Bytes packet = {
      // Common header.
      0x0b, 0x80, 0x00, 0x01,  // Version 0, TrafficClass 0xb8, FlowID 1
      0x11, 0x12, 0x00, 0x0c,  // NextHdr 17, HdrLen 18 (72 B), PayloadLen 12
      0x01, 0x00, 0x00, 0x00,  // PathType SCION, DT/DL/ST/SL IPv4, RSV
      // Address header.
      0x00, 0x01, 0xff, 0x00, 0x00, 0x00, 0x01, 0x10,  // 1-ff00:0:110
      0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0xfc, 0x00,  // 2-64512
      0x0a, 0x00, 0x00, 0x01,                          // 10.0.0.1
      0xc0, 0x00, 0x02, 0x07,                          // 192.0.2.7
      // Path: CurrINF 0, CurrHF 1, Seg0Len 2; one info field, two hops.
      0x01, 0x00, 0x20, 0x00,                          //
      0x01, 0x00, 0xab, 0xcd, 0x65, 0x00, 0x00, 0x00,  // C, SegID, time
      0x00, 0x3f, 0x00, 0x00, 0x00, 0x01, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
      0x00, 0x3f, 0x00, 0x02, 0x00, 0x00, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb,
      // UDP: 49153 -> 30000, length 12, checksum 0, 4 bytes of data.
      0xc0, 0x01, 0x75, 0x30, 0x00, 0x0c, 0x00, 0x00,  //
      0xde, 0xad, 0xbe, 0xef};
  ASSERT_EQ(packet.size(), 84u);
  PacketView v;
  ASSERT_EQ(Parse(packet, v), ParseError::kNone);
  EXPECT_EQ(v.next_header, 17);
  EXPECT_EQ(v.path_type, static_cast<uint8_t>(PathType::kScion));
  EXPECT_EQ(v.path_type_offset, 8u);
  EXPECT_EQ(v.header_length, 72u);
  EXPECT_EQ(v.payload_length, 12u);
  EXPECT_EQ(v.dst_ia, (IsdAs{1, 0xff0000000110}));
  EXPECT_EQ(v.dst_ia.ToString(), "1-ff00:0:110");
  EXPECT_EQ(v.src_ia, (IsdAs{2, 64512}));
  EXPECT_EQ(v.src_ia.ToString(), "2-64512");
  EXPECT_EQ(v.dst.type, HostAddress::kIpv4);
  EXPECT_EQ(v.dst.offset, 28u);
  EXPECT_EQ(v.dst.bytes, (std::array<uint8_t, 16>{10, 0, 0, 1}));
  EXPECT_EQ(v.src.type, HostAddress::kIpv4);
  EXPECT_EQ(v.src.offset, 32u);
  EXPECT_EQ(v.src.bytes, (std::array<uint8_t, 16>{192, 0, 2, 7}));
  EXPECT_EQ(v.path_offset, 36u);
  EXPECT_EQ(v.path_length, 36u);
  EXPECT_EQ(v.l4, L4::kUdp);
  EXPECT_EQ(v.l4_protocol, 17);
  EXPECT_EQ(v.l4_offset, 72u);
  EXPECT_EQ(v.src_port, 49153);
  EXPECT_EQ(v.dst_port, 30000);
  EXPECT_FALSE(v.scmp_identifier.has_value());
  EXPECT_EQ(Str(SourceEndpoint(v)), "192.0.2.7:49153");
  EXPECT_EQ(Str(DispatchDestination(packet, v)), "10.0.0.1:30000");
}

TEST(ScionPacketTest, HandWrittenScmpExternalInterfaceDownQuotingUdp) {
  const Bytes packet = {
      // Common header: NextHdr SCMP, HdrLen 12 (48 B), PayloadLen 64, Empty
      // path; DT/DL IPv4, ST/SL IPv6 (0x03).
      0x00, 0x00, 0x00, 0x07, 0xca, 0x0c, 0x00, 0x40, 0x00, 0x03, 0x00, 0x00,
      // 1-ff00:0:110 <- 1-ff00:0:1, 10.0.0.1 <- 2001:db8::99.
      0x00, 0x01, 0xff, 0x00, 0x00, 0x00, 0x01, 0x10,  //
      0x00, 0x01, 0xff, 0x00, 0x00, 0x00, 0x00, 0x01,  //
      0x0a, 0x00, 0x00, 0x01,                          //
      0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,  //
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x99,  //
      // SCMP type 5, code 0, checksum; ISD-AS 1-ff00:0:1; interface ID 42.
      0x05, 0x00, 0x12, 0x34,                          //
      0x00, 0x01, 0xff, 0x00, 0x00, 0x00, 0x00, 0x01,  //
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,  //
      // Quote: UDP 10.0.0.1:30001 -> 192.0.2.7:443 over an Empty path.
      0x00, 0x00, 0x00, 0x07, 0x11, 0x09, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x01, 0xff, 0x00, 0x00, 0x00, 0x01, 0x11,  //
      0x00, 0x01, 0xff, 0x00, 0x00, 0x00, 0x01, 0x10,  //
      0xc0, 0x00, 0x02, 0x07, 0x0a, 0x00, 0x00, 0x01,  //
      0x75, 0x31, 0x01, 0xbb, 0x00, 0x08, 0x00, 0x00};
  ASSERT_EQ(packet.size(), 48u + 64u);
  PacketView v;
  ASSERT_EQ(Parse(packet, v), ParseError::kNone);
  EXPECT_EQ(v.path_type, static_cast<uint8_t>(PathType::kEmpty));
  EXPECT_EQ(v.path_length, 0u);
  EXPECT_EQ(v.src.type, HostAddress::kIpv6);
  EXPECT_EQ(v.src.bytes[0], 0x20);
  EXPECT_EQ(v.src.bytes[15], 0x99);
  EXPECT_EQ(v.l4, L4::kScmp);
  EXPECT_EQ(v.l4_offset, 48u);
  EXPECT_EQ(v.scmp_type, 5);
  EXPECT_EQ(v.scmp_code, 0);
  EXPECT_FALSE(v.scmp_identifier.has_value());
  EXPECT_EQ(v.scmp_quote_offset, 48u + 20u);
  EXPECT_EQ(Str(SourceEndpoint(v)), "[2001:db8::99]:0");
  EXPECT_EQ(Str(DispatchDestination(packet, v)), "10.0.0.1:30001");
}

// --- Builder round trips -----------------------------------------------------

TEST(ScionPacketTest, UdpRoundTripsOverEveryFamilyAndPath) {
  for (const BuildSpec& spec : {V4Spec(1), V4Spec(0), V6Spec(1), V6Spec(0),
                                Spec("[2001:db8::7]:1", "10.0.0.1:2"),
                                Spec("192.0.2.7:1", "[2001:db8::1]:2", 0)}) {
    const Bytes packet = BuildUdp(spec);
    SCOPED_TRACE(spec.src.ToString() + " -> " + spec.dst.ToString());
    const PacketView v = MustParse(packet);
    const size_t dst_length = spec.dst.is_ipv4() ? 4 : 16;
    const size_t src_length = spec.src.is_ipv4() ? 4 : 16;
    const size_t path_length = spec.path_type == 1 ? 36 : 0;
    EXPECT_EQ(v.path_type, spec.path_type);
    EXPECT_EQ(v.src_ia, kRemoteIa);
    EXPECT_EQ(v.dst_ia, kLocalIa);
    EXPECT_EQ(v.src.offset, 28 + dst_length);
    EXPECT_EQ(v.path_offset, 28 + dst_length + src_length);
    EXPECT_EQ(v.path_length, path_length);
    EXPECT_EQ(v.header_length, v.path_offset + path_length);
    EXPECT_EQ(v.payload_length, 8u + spec.payload.size());
    EXPECT_EQ(v.l4, L4::kUdp);
    EXPECT_EQ(v.l4_offset, v.header_length);
    EXPECT_EQ(SourceEndpoint(v), spec.src);
    EXPECT_EQ(DispatchDestination(packet, v), spec.dst);
  }
}

TEST(ScionPacketTest, ScmpEchoRoundTrips) {
  for (uint8_t type : {128, 129}) {
    const Bytes packet = BuildScmpEcho(V6Spec(), type, 4242, 7);
    const PacketView v = MustParse(packet);
    EXPECT_EQ(v.l4, L4::kScmp);
    EXPECT_EQ(v.scmp_type, type);
    EXPECT_EQ(v.scmp_identifier, 4242);
    EXPECT_EQ(v.scmp_quote_offset, 0u);
    EXPECT_EQ(Str(SourceEndpoint(v)), "[2001:db8::7]:4242");
    EXPECT_EQ(Str(DispatchDestination(packet, v)), "[2001:db8::1]:4242");
  }
}

// --- One crafted packet per error ------------------------------------------

TEST(ScionPacketTest, EveryPrefixOfAValidPacketIsAnError) {
  const Bytes udp = BuildUdp(V4Spec());
  const Bytes quote = BuildUdp(V6Spec(0));
  const std::vector<Bytes> packets = {
      udp,
      BuildScmpEcho(V6Spec(0), 128, 1, 2),
      BuildScmpError(V4Spec(), 5, 0, quote),
      WithExtensions(udp, {{200, 0}, {201, 2}}),
  };
  for (const Bytes& packet : packets) {
    const PacketView full = MustParse(packet);
    for (size_t n = 0; n < packet.size(); ++n) {
      const Bytes prefix(packet.begin(), packet.begin() + n);
      PacketView v;
      EXPECT_NE(Parse(prefix, v), ParseError::kNone) << n;
      DispatchDestination(prefix, full);  // must stay inside `prefix`
    }
  }
  EXPECT_EQ(ParseOf({}), ParseError::kTruncated);
  EXPECT_EQ(ParseOf(Bytes(udp.begin(), udp.begin() + 11)),
            ParseError::kTruncated);
  EXPECT_EQ(ParseOf(Bytes(udp.begin(), udp.begin() + 20)),
            ParseError::kTruncated);  // inside the address header
  EXPECT_EQ(ParseOf(Bytes(udp.begin(), udp.begin() + 50)),
            ParseError::kTruncated);  // inside the path
}

TEST(ScionPacketTest, VersionOtherThanZeroIsRejected) {
  for (uint8_t version = 1; version < 16; ++version) {
    Bytes packet = BuildUdp(V4Spec());
    packet[0] = static_cast<uint8_t>(version << 4 | (packet[0] & 0x0f));
    EXPECT_EQ(ParseOf(packet), ParseError::kBadVersion);
  }
  Bytes packet = BuildUdp(V4Spec());
  packet[0] = 0x0f;  // traffic class bits only
  EXPECT_EQ(ParseOf(packet), ParseError::kNone);
}

TEST(ScionPacketTest, LengthsMustAgreeWithTheDatagram) {
  const Bytes packet = BuildUdp(V4Spec());
  const size_t payload = packet.size() - HeaderLength(packet);
  Bytes p = packet;
  SetPayloadLength(p, payload + 1);
  EXPECT_EQ(ParseOf(p), ParseError::kLengthMismatch);
  SetPayloadLength(p, payload - 1);
  EXPECT_EQ(ParseOf(p), ParseError::kLengthMismatch);
  p = packet;
  p.push_back(0);
  EXPECT_EQ(ParseOf(p), ParseError::kLengthMismatch);
  for (int delta : {-1, 1}) {
    p = packet;
    p[5] = static_cast<uint8_t>(p[5] + delta);
    EXPECT_EQ(ParseOf(p), ParseError::kLengthMismatch) << delta;
  }
  p = packet;
  p[5] = 0;  // shorter than common + address header
  EXPECT_EQ(ParseOf(p), ParseError::kLengthMismatch);
  p[5] = (28 + 8) / 4 - 1;
  EXPECT_EQ(ParseOf(p), ParseError::kLengthMismatch);
  p[5] = 255;  // 1020 bytes of header in a shorter datagram
  EXPECT_EQ(ParseOf(p), ParseError::kTruncated);
}

TEST(ScionPacketTest, OnlyAssignedAddressTypeAndLengthPairsParse) {
  const Bytes packet = BuildUdp(V4Spec());
  for (uint8_t type = 0; type < 4; ++type) {
    for (uint8_t code = 0; code < 4; ++code) {
      const bool assigned =
          (type == 0 && (code == 0 || code == 3)) || (type == 1 && code == 0);
      const uint8_t pair = static_cast<uint8_t>(type << 2 | code);
      Bytes dst = packet;
      dst[9] = static_cast<uint8_t>(pair << 4 | (packet[9] & 0x0f));
      Bytes src = packet;
      src[9] = static_cast<uint8_t>((packet[9] & 0xf0) | pair);
      for (const Bytes& p : {dst, src}) {
        const ParseError error = ParseOf(p);
        EXPECT_EQ(error == ParseError::kBadAddressType, !assigned)
            << int{type} << "/" << int{code} << " " << ParseErrorName(error);
      }
    }
  }
}

TEST(ScionPacketTest, ServiceAddressesParseButHaveNoEndpoint) {
  Bytes packet = BuildUdp(V4Spec());
  packet[9] = 0x40;  // DT = 1: the destination is a service
  PacketView v = MustParse(packet);
  EXPECT_EQ(v.dst.type, HostAddress::kService);
  EXPECT_EQ(Str(SourceEndpoint(v)), "192.0.2.7:40000");
  EXPECT_EQ(DispatchDestination(packet, v), std::nullopt);
  packet[9] = 0x04;  // ST = 1: the source is a service
  v = MustParse(packet);
  EXPECT_EQ(v.src.type, HostAddress::kService);
  EXPECT_EQ(SourceEndpoint(v), std::nullopt);
  EXPECT_EQ(Str(DispatchDestination(packet, v)), "10.0.0.1:30000");
}

TEST(ScionPacketTest, EmptyPathMustBeEmpty) {
  Bytes packet = BuildUdp(V4Spec(1));
  packet[8] = 0;  // Empty, yet 36 path bytes
  EXPECT_EQ(ParseOf(packet), ParseError::kBadPath);
  EXPECT_EQ(ParseOf(BuildUdp(V4Spec(0))), ParseError::kNone);
}

TEST(ScionPacketTest, OtherPathTypesParseAtAnyLength) {
  const Bytes packet = BuildUdp(V4Spec());
  for (uint8_t type : {2, 3, 4, 77, 255}) {
    for (size_t length : {0, 4, 32, 100}) {
      const Bytes p = WithPath(packet, type, Bytes(length, 0x5a));
      PacketView v;
      ASSERT_EQ(Parse(p, v), ParseError::kNone) << int{type} << " " << length;
      EXPECT_EQ(v.path_type, type);
      EXPECT_EQ(v.path_length, length);
      EXPECT_EQ(v.l4, L4::kUdp);
    }
  }
}

TEST(ScionPacketTest, ScionPathsThatAgreeWithTheirMetaHeaderParse) {
  const Bytes packet = BuildUdp(V4Spec());
  struct Case {
    uint32_t meta;
    size_t num_inf, num_hf;
  };
  for (const Case& c : {
           Case{Meta(0, 0, 1, 0, 0), 1, 1}, Case{Meta(0, 1, 2, 0, 0), 1, 2},
           Case{Meta(0, 0, 1, 2, 3), 3, 6}, Case{Meta(1, 2, 1, 2, 0), 2, 3},
           Case{Meta(2, 5, 1, 2, 3), 3, 6},
           Case{Meta(0, 62, 63, 1, 0), 2, 64},  // 64 hop fields at most
       }) {
    EXPECT_EQ(
        ParseOf(WithPath(packet, 1, ScionPath(c.meta, c.num_inf, c.num_hf))),
        ParseError::kNone)
        << std::hex << c.meta;
  }
}

TEST(ScionPacketTest, ScionPathsThatDisagreeWithTheirMetaHeaderAreRejected) {
  const Bytes packet = BuildUdp(V4Spec());
  struct Case {
    uint32_t meta;
    size_t num_inf, num_hf;
  };
  for (const Case& c : {
           Case{Meta(0, 0, 2, 1, 0), 1, 2},  // Seg1Len not backed by bytes
           Case{Meta(0, 0, 2, 0, 0), 1, 3},  // one hop field too many
           Case{Meta(0, 0, 2, 0, 0), 2, 2},  // one info field too many
           Case{Meta(0, 0, 0, 2, 0), 1, 2},  // a gap before segment 1
           Case{Meta(0, 0, 0, 2, 0), 2, 2},  // the same, counted as 2 INF
           Case{Meta(0, 0, 2, 0, 1), 2, 3},  // a gap before segment 2
           Case{Meta(0, 0, 0, 0, 0), 0, 0},  // no hop fields at all
           Case{Meta(1, 0, 2, 0, 0), 1, 2},  // CurrINF past the last INF
           Case{Meta(3, 0, 1, 1, 1), 3, 3},  // CurrINF 3: there is no INF 3
           Case{Meta(0, 2, 2, 0, 0), 1, 2},  // CurrHF past the last HF
           Case{Meta(1, 0, 1, 2, 0), 2, 3},  // CurrHF before CurrINF's segment
           Case{Meta(0, 1, 1, 2, 0), 2, 3},  // CurrHF after CurrINF's segment
           Case{Meta(0, 0, 63, 2, 0), 2, 65},  // more than 64 hop fields
       }) {
    EXPECT_EQ(
        ParseOf(WithPath(packet, 1, ScionPath(c.meta, c.num_inf, c.num_hf))),
        ParseError::kBadPath)
        << std::hex << c.meta;
  }
  EXPECT_EQ(ParseOf(WithPath(packet, 1, {})), ParseError::kBadPath);
}

// --- Extension headers ------------------------------------------------------

TEST(ScionPacketTest, ExtensionHeadersAreWalked) {
  const Bytes udp = BuildUdp(V4Spec());
  const size_t header = HeaderLength(udp);
  struct Case {
    std::vector<Ext> chain;
    size_t length;
  };
  for (const Case& c : {Case{{{200, 0}}, 4}, Case{{{201, 1}}, 8},
                        Case{{{200, 2}, {201, 0}}, 16}}) {
    const Bytes packet = WithExtensions(udp, c.chain);
    const PacketView v = MustParse(packet);
    EXPECT_EQ(v.next_header, c.chain[0].type);
    EXPECT_EQ(v.l4, L4::kUdp);
    EXPECT_EQ(v.l4_protocol, 17);
    EXPECT_EQ(v.l4_offset, header + c.length);
    EXPECT_EQ(Str(DispatchDestination(packet, v)), "10.0.0.1:30000");
  }
  Bytes tcp = udp;
  tcp[4] = 6;
  const PacketView v = MustParse(WithExtensions(tcp, {{201, 0}}));
  EXPECT_EQ(v.l4, L4::kOther);
  EXPECT_EQ(v.l4_protocol, 6);
  EXPECT_EQ(v.l4_offset, header + 4);
}

TEST(ScionPacketTest, BadExtensionHeadersAreRejected) {
  const Bytes udp = BuildUdp(V4Spec());
  for (const std::vector<Ext>& chain : std::vector<std::vector<Ext>>{
           {{201, 0}, {200, 0}},  // hop-by-hop after end-to-end
           {{200, 0}, {200, 0}},  // two hop-by-hop
           {{201, 0}, {201, 0}},  // two end-to-end
           {{200, 0}, {201, 0}, {201, 0}},
       }) {
    EXPECT_EQ(ParseOf(WithExtensions(udp, chain)), ParseError::kBadExtension);
  }
  const size_t header = HeaderLength(udp);
  Bytes packet = WithExtensions(udp, {{200, 0}});
  packet[header + 1] = 10;  // runs past the end
  EXPECT_EQ(ParseOf(packet), ParseError::kBadExtension);
  packet = udp;
  packet[4] = 201;
  EXPECT_EQ(ParseOf(WithPayloadSize(packet, 0)), ParseError::kBadExtension);
  EXPECT_EQ(ParseOf(WithPayloadSize(packet, 1)), ParseError::kBadExtension);
  EXPECT_EQ(ParseOf(WithPayloadSize(packet, 3)), ParseError::kBadExtension);
}

// --- L4
// -----------------------------------------------------------------------

TEST(ScionPacketTest, UdpNeedsEightBytes) {
  const Bytes udp = BuildUdp(V4Spec());
  EXPECT_EQ(ParseOf(WithPayloadSize(udp, 7)), ParseError::kBadL4);
  EXPECT_EQ(ParseOf(WithPayloadSize(udp, 0)), ParseError::kBadL4);
  EXPECT_EQ(ParseOf(WithPayloadSize(udp, 8)), ParseError::kNone);
}

TEST(ScionPacketTest, ScmpNeedsItsTypesFixedPart) {
  BuildSpec spec = V4Spec();
  spec.payload.clear();
  struct Case {
    uint8_t type;
    size_t fixed;
  };
  for (const Case& c :
       {Case{1, 8}, Case{2, 8}, Case{4, 8}, Case{5, 20}, Case{6, 28},
        Case{3, 8}, Case{100, 8}, Case{128, 8}, Case{129, 8}, Case{130, 24},
        Case{131, 24}, Case{200, 4}}) {
    Bytes packet = BuildScmpEcho(spec, 128, 0x1234, 1);
    packet[HeaderLength(packet)] = c.type;
    EXPECT_EQ(ParseOf(WithPayloadSize(packet, c.fixed - 1)), ParseError::kBadL4)
        << int{c.type};
    const Bytes exact = WithPayloadSize(packet, c.fixed);
    PacketView v = MustParse(exact);
    EXPECT_EQ(v.scmp_type, c.type);
    EXPECT_EQ(v.scmp_quote_offset, 0u) << int{c.type};
    EXPECT_EQ(v.scmp_identifier.has_value(), c.type >= 128 && c.type <= 131);
    v = MustParse(WithPayloadSize(packet, c.fixed + 1));
    const size_t quote = c.type < 128 ? v.l4_offset + c.fixed : 0;
    EXPECT_EQ(v.scmp_quote_offset, quote) << int{c.type};
  }
  Bytes packet = BuildScmpEcho(spec, 128, 1, 1);
  EXPECT_EQ(ParseOf(WithPayloadSize(packet, 3)), ParseError::kBadL4);
}

TEST(ScionPacketTest, OtherProtocolsParseWithoutPorts) {
  Bytes packet = BuildUdp(V4Spec());
  packet[4] = 6;  // TCP
  const PacketView v = MustParse(packet);
  EXPECT_EQ(v.l4, L4::kOther);
  EXPECT_EQ(v.l4_protocol, 6);
  EXPECT_EQ(v.src_port, 0);
  EXPECT_EQ(Str(SourceEndpoint(v)), "192.0.2.7:0");
  EXPECT_EQ(DispatchDestination(packet, v), std::nullopt);
}

// --- Where SCMP goes
// ----------------------------------------------------------

// What the local host sent: UDP 10.0.0.1:30000 -> 192.0.2.7:40000.
Bytes Outgoing() { return BuildUdp(Spec("10.0.0.1:30000", "192.0.2.7:40000")); }

TEST(ScionPacketTest, ScmpErrorsGoToTheQuotedSourcePort) {
  const BuildSpec router = Spec("192.0.2.254:0", "10.0.0.1:0");
  for (uint8_t type : {1, 2, 4, 5, 6, 3, 99}) {
    const Bytes packet = BuildScmpError(router, type, 0, Outgoing());
    const PacketView v = MustParse(packet);
    EXPECT_EQ(v.scmp_type, type);
    EXPECT_EQ(Str(SourceEndpoint(v)), "192.0.2.254:0");
    EXPECT_EQ(Str(DispatchDestination(packet, v)), "10.0.0.1:30000")
        << int{type};
  }
  const Bytes echo =
      BuildScmpEcho(Spec("10.0.0.1:0", "192.0.2.7:0", 0), 128, 777, 1);
  Bytes packet = BuildScmpError(router, 1, 0, echo);
  EXPECT_EQ(Str(DispatchDestination(packet, MustParse(packet))),
            "10.0.0.1:777");
  const Bytes quoted_ext = WithExtensions(Outgoing(), {{200, 0}, {201, 1}});
  packet = BuildScmpError(router, 2, 0, quoted_ext);
  EXPECT_EQ(Str(DispatchDestination(packet, MustParse(packet))),
            "10.0.0.1:30000");
}

TEST(ScionPacketTest, ATruncatedQuoteStillYieldsItsPortIfPresent) {
  const BuildSpec router = Spec("192.0.2.254:0", "10.0.0.1:0");
  const Bytes quote = Outgoing();
  const size_t l4 = HeaderLength(quote);
  for (size_t n = 0; n <= quote.size(); ++n) {
    const Bytes packet =
        BuildScmpError(router, 2, 0, absl::MakeConstSpan(quote.data(), n));
    const PacketView v = MustParse(packet);
    const std::string expected = n >= l4 + 2 ? "10.0.0.1:30000" : "none";
    EXPECT_EQ(Str(DispatchDestination(packet, v)), expected) << n;
  }
}

TEST(ScionPacketTest, QuotesThatYieldNoPortAreNotDispatched) {
  const BuildSpec router = Spec("192.0.2.254:0", "10.0.0.1:0");
  Bytes quote = Outgoing();
  quote[0] = 0x10;  // version 1
  Bytes packet = BuildScmpError(router, 1, 0, quote);
  EXPECT_EQ(DispatchDestination(packet, MustParse(packet)), std::nullopt);
  quote = Outgoing();
  quote[4] = 6;  // TCP
  packet = BuildScmpError(router, 1, 0, quote);
  EXPECT_EQ(DispatchDestination(packet, MustParse(packet)), std::nullopt);
  quote = Outgoing();
  quote[9] = 0x20;  // DT 0, DL 2: unassigned
  packet = BuildScmpError(router, 1, 0, quote);
  EXPECT_EQ(DispatchDestination(packet, MustParse(packet)), std::nullopt);
  quote = Outgoing();
  quote[5] = 1;  // HdrLen shorter than its address header
  packet = BuildScmpError(router, 1, 0, quote);
  EXPECT_EQ(DispatchDestination(packet, MustParse(packet)), std::nullopt);
  const Bytes unknown_informational = [] {
    Bytes p = BuildScmpEcho(Spec("10.0.0.1:0", "192.0.2.7:0"), 129, 5, 1);
    p[HeaderLength(p)] = 200;  // an informational type without identifier
    return p;
  }();
  packet = BuildScmpError(router, 1, 0, unknown_informational);
  EXPECT_EQ(DispatchDestination(packet, MustParse(packet)), std::nullopt);
  packet = BuildScmpError(router, 1, 0, {});  // nothing quoted
  const PacketView v = MustParse(packet);
  EXPECT_EQ(v.scmp_quote_offset, 0u);
  EXPECT_EQ(DispatchDestination(packet, v), std::nullopt);
}

TEST(ScionPacketTest, DispatchStaysInsideThePacketForAForeignView) {
  const Bytes error =
      BuildScmpError(Spec("192.0.2.254:0", "10.0.0.1:0"), 1, 0, Outgoing());
  const PacketView v = MustParse(error);
  const Bytes small(20, 0);
  EXPECT_EQ(DispatchDestination(small, v), std::nullopt);
  EXPECT_EQ(DispatchDestination({}, v), std::nullopt);
  PacketView odd = v;
  odd.l4 = static_cast<L4>(9);
  EXPECT_EQ(DispatchDestination(error, odd), std::nullopt);
  odd = v;
  odd.scmp_quote_offset = ~size_t{0};
  EXPECT_EQ(DispatchDestination(error, odd), std::nullopt);
}

TEST(ScionPacketTest, ErrorNamesAreDistinct) {
  EXPECT_EQ(ParseErrorName(ParseError::kNone), "none");
  EXPECT_EQ(ParseErrorName(ParseError::kBadL4), "bad_l4");
  std::vector<absl::string_view> names;
  for (int e = 0; e <= static_cast<int>(ParseError::kBadL4); ++e) {
    names.push_back(ParseErrorName(static_cast<ParseError>(e)));
  }
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_NE(names[i], "unknown");
    for (size_t j = i + 1; j < names.size(); ++j) EXPECT_NE(names[i], names[j]);
  }
}

// --- ISD-AS -----------------------------------------------------------------

TEST(IsdAsTest, FormatsAndParsesBothNotations) {
  struct Case {
    const char* text;
    IsdAs ia;
  };
  for (const Case& c : {
           Case{"1-ff00:0:110", {1, 0xff0000000110}},
           Case{"1-64512", {1, 64512}},
           Case{"0-0", {0, 0}},
           Case{"65535-4294967295", {65535, 0xffffffff}},
           Case{"15-1:0:0", {15, 0x100000000}},
           Case{"64-2:0:1f", {64, 0x20000001f}},
           Case{"1-ffff:ffff:ffff", {1, kMaxAs}},
       }) {
    EXPECT_EQ(c.ia.ToString(), c.text);
    EXPECT_EQ(IsdAs::Parse(c.text), c.ia) << c.text;
  }
  // Hexadecimal is accepted for the 32-bit range too, printed in decimal.
  EXPECT_EQ(IsdAs::Parse("1-0:0:fc00"), (IsdAs{1, 64512}));
  EXPECT_EQ(IsdAs::Parse("1-0:1:f"), (IsdAs{1, 65551}));
  EXPECT_EQ(IsdAs::Parse("1-FF00:0:110"), (IsdAs{1, 0xff0000000110}));
  EXPECT_EQ(IsdAs::Parse("1-0000:0000:0001"), (IsdAs{1, 1}));
}

TEST(IsdAsTest, RejectsEverythingElse) {
  for (const char* text : {"",
                           "1",
                           "-1",
                           "1-",
                           "-",
                           "1--1",
                           "65536-1",
                           "123456-1",
                           "1-4294967296",
                           "1-99999999999",
                           "1-ff00:0",
                           "1-ff00:0:110:1",
                           "1-1ffff:0:0",
                           "1-:0:0",
                           "1-0:0:",
                           "1-ff00::110",
                           "1-::",
                           "+1-1",
                           "1-+1",
                           " 1-1",
                           "1-1 ",
                           "a-1",
                           "1-0x10",
                           "1-g:0:0",
                           "1-ff00:0:11g",
                           "1-1-1",
                           "1_1"}) {
    EXPECT_EQ(IsdAs::Parse(text), std::nullopt) << text;
  }
}

TEST(IsdAsTest, EqualValuesHashAlike) {
  const IsdAs a{1, 0xff0000000110};
  const IsdAs b = *IsdAs::Parse("1-ff00:0:110");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, (IsdAs{2, 0xff0000000110}));
  EXPECT_EQ(absl::Hash<IsdAs>{}(a), absl::Hash<IsdAs>{}(b));
}

}  // namespace
}  // namespace snaptun::scion
