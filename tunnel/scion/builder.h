// Test-only construction of well-formed SCION datagrams: UDP, SCMP echo and
// SCMP errors between two endpoints, over an Empty path or a one-segment,
// two-hop SCION path. Header lengths and PayloadLen are right; checksums and
// hop-field MACs are zero.
#ifndef SNAPTUN_TUNNEL_SCION_BUILDER_H_
#define SNAPTUN_TUNNEL_SCION_BUILDER_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "tunnel/core/endpoint.h"
#include "tunnel/scion/isd_as.h"

namespace snaptun::scion {

struct BuildSpec {
  IsdAs src_ia, dst_ia;
  // The hosts (IPv4 as DL/SL 0, IPv6 as 3) and the UDP ports.
  core::Endpoint src, dst;
  // 1: SCION with PathMetaHdr Seg0Len=2, one info field, two hop fields
  // (36 bytes). 0: Empty. Any other value: that type with no path bytes.
  uint8_t path_type = 1;
  // UDP payload or SCMP echo data; not used by BuildScmpError.
  std::vector<uint8_t> payload;
};

std::vector<uint8_t> BuildUdp(const BuildSpec& spec);

// `type` 128 (request) or 129 (reply), code 0.
std::vector<uint8_t> BuildScmpEcho(const BuildSpec& spec, uint8_t type,
                                   uint16_t identifier, uint16_t seq);

// The type's fixed part zeroed (4 bytes; 16 for type 5, 24 for type 6), then
// `quote`.
std::vector<uint8_t> BuildScmpError(const BuildSpec& spec, uint8_t type,
                                    uint8_t code,
                                    absl::Span<const uint8_t> quote);

}  // namespace snaptun::scion

#endif  // SNAPTUN_TUNNEL_SCION_BUILDER_H_
