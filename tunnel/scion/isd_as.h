// A SCION ISD-AS pair: the 16-bit isolation domain and the 48-bit AS number
// that name where a SCION address lives. Text form as the SCION control-plane
// draft prescribes: "<ISD>-<AS>", the ISD in decimal, an AS below 2^32 in
// decimal ("1-64512") and any other AS as three colon-separated hexadecimal
// groups ("1-ff00:0:110").
#ifndef SNAPTUN_TUNNEL_SCION_ISD_AS_H_
#define SNAPTUN_TUNNEL_SCION_ISD_AS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace snaptun::scion {

inline constexpr uint64_t kMaxAs = (uint64_t{1} << 48) - 1;

struct IsdAs {
  uint16_t isd = 0;
  uint64_t as = 0;  // 48 bits; only the low 48 are ever written or printed.

  // Decimal AS below 2^32, hexadecimal groups (no leading zeros, a zero
  // group written "0") otherwise.
  std::string ToString() const;
  // Accepts "<ISD>-<AS>" with the ISD in decimal (at most 65535) and the AS
  // either in decimal (below 2^32) or as exactly three groups of one to four
  // hexadecimal digits (any value, so "0:0:fc00" is 64512). Rejects signs,
  // spaces, empty parts, "::" and anything else.
  static std::optional<IsdAs> Parse(absl::string_view text);

  friend bool operator==(const IsdAs& a, const IsdAs& b) {
    return a.isd == b.isd && a.as == b.as;
  }
  friend bool operator!=(const IsdAs& a, const IsdAs& b) { return !(a == b); }
  template <typename H>
  friend H AbslHashValue(H h, const IsdAs& ia) {
    return H::combine(std::move(h), ia.isd, ia.as);
  }
};

}  // namespace snaptun::scion

#endif  // SNAPTUN_TUNNEL_SCION_ISD_AS_H_
