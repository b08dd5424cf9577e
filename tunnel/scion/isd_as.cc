// ISD-AS text formatting and strict parsing.
#include "tunnel/scion/isd_as.h"

#include "absl/strings/str_format.h"

namespace snaptun::scion {
namespace {

constexpr uint64_t kMaxBgpAs = (uint64_t{1} << 32) - 1;

// Decimal digits only, at most `max_digits` of them, value at most `max`.
std::optional<uint64_t> ParseDecimal(absl::string_view text, size_t max_digits,
                                     uint64_t max) {
  if (text.empty() || text.size() > max_digits) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value > max) return std::nullopt;
  return value;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One to four hexadecimal digits.
std::optional<uint64_t> ParseHexGroup(absl::string_view text) {
  if (text.empty() || text.size() > 4) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    const int digit = HexDigit(c);
    if (digit < 0) return std::nullopt;
    value = value << 4 | static_cast<uint64_t>(digit);
  }
  return value;
}

// Exactly three colon-separated groups, most significant first.
std::optional<uint64_t> ParseHexAs(absl::string_view text) {
  uint64_t value = 0;
  for (int group = 0; group < 3; ++group) {
    const size_t colon = text.find(':');
    const bool last = group == 2;
    if (last != (colon == absl::string_view::npos)) return std::nullopt;
    const std::optional<uint64_t> part = ParseHexGroup(text.substr(0, colon));
    if (!part.has_value()) return std::nullopt;
    value = value << 16 | *part;
    if (!last) text.remove_prefix(colon + 1);
  }
  return value;
}

}  // namespace

std::string IsdAs::ToString() const {
  const uint64_t a = as & kMaxAs;
  if (a <= kMaxBgpAs) return absl::StrFormat("%u-%u", isd, a);
  return absl::StrFormat("%u-%x:%x:%x", isd, a >> 32, (a >> 16) & 0xffff,
                         a & 0xffff);
}

std::optional<IsdAs> IsdAs::Parse(absl::string_view text) {
  const size_t dash = text.find('-');
  if (dash == absl::string_view::npos) return std::nullopt;
  const std::optional<uint64_t> isd =
      ParseDecimal(text.substr(0, dash), 5, 0xffff);
  const absl::string_view as_text = text.substr(dash + 1);
  const std::optional<uint64_t> as =
      as_text.find(':') == absl::string_view::npos
          ? ParseDecimal(as_text, 10, kMaxBgpAs)
          : ParseHexAs(as_text);
  if (!isd.has_value() || !as.has_value()) return std::nullopt;
  return IsdAs{static_cast<uint16_t>(*isd), *as};
}

}  // namespace snaptun::scion
