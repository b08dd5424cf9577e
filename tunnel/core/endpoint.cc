// Endpoint construction, parsing and printing (inet_pton/ntop do the text).
#include "tunnel/core/endpoint.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace snaptun::core {

Endpoint Endpoint::Ipv4(std::array<uint8_t, 4> address, uint16_t port) {
  Endpoint e;
  std::memcpy(e.address_.data() + 12, address.data(), 4);
  e.port_ = port;
  e.is_ipv4_ = true;
  return e;
}

Endpoint Endpoint::Ipv6(const std::array<uint8_t, 16>& address, uint16_t port) {
  static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0,    0,
                                                0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(address.data(), kMappedPrefix, 12) == 0) {
    return Ipv4({address[12], address[13], address[14], address[15]}, port);
  }
  Endpoint e;
  e.address_ = address;
  e.port_ = port;
  e.is_ipv4_ = false;
  return e;
}

std::optional<Endpoint> Endpoint::Parse(absl::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return std::nullopt;
  uint32_t port = 0;
  if (!absl::SimpleAtoi(text.substr(colon + 1), &port) || port > 65535 ||
      text.substr(colon + 1).empty()) {
    return std::nullopt;
  }
  absl::string_view host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return std::nullopt;
    const std::string h(host.substr(1, host.size() - 2));
    std::array<uint8_t, 16> a{};
    if (inet_pton(AF_INET6, h.c_str(), a.data()) != 1) return std::nullopt;
    return Ipv6(a, static_cast<uint16_t>(port));
  }
  const std::string h(host);
  std::array<uint8_t, 4> a{};
  if (inet_pton(AF_INET, h.c_str(), a.data()) != 1) return std::nullopt;
  return Ipv4(a, static_cast<uint16_t>(port));
}

std::string Endpoint::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (is_ipv4_) {
    inet_ntop(AF_INET, address_.data() + 12, buf, sizeof(buf));
    return absl::StrCat(buf, ":", port_);
  }
  inet_ntop(AF_INET6, address_.data(), buf, sizeof(buf));
  return absl::StrCat("[", buf, "]:", port_);
}

}  // namespace snaptun::core
