// A UDP endpoint (IPv4 or IPv6 address and port) as a plain value: what the
// gateway keys tunnels by and what the SNAP response seals. IPv4-mapped IPv6
// addresses are normalised to IPv4 so that one peer never appears under two
// keys (the reference's dual-stack pitfall, W34).
#ifndef SNAPTUN_TUNNEL_CORE_ENDPOINT_H_
#define SNAPTUN_TUNNEL_CORE_ENDPOINT_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace snaptun::core {

class Endpoint {
 public:
  Endpoint() = default;

  static Endpoint Ipv4(std::array<uint8_t, 4> address, uint16_t port);
  // A mapped address (::ffff:a.b.c.d) becomes IPv4.
  static Endpoint Ipv6(const std::array<uint8_t, 16>& address, uint16_t port);
  // "a.b.c.d:port" or "[v6]:port". nullopt when malformed.
  static std::optional<Endpoint> Parse(absl::string_view text);

  bool is_ipv4() const { return is_ipv4_; }
  uint16_t port() const { return port_; }
  // IPv4 addresses occupy the last 4 bytes, the first 12 being zero.
  const std::array<uint8_t, 16>& address() const { return address_; }
  std::string ToString() const;

  friend bool operator==(const Endpoint& a, const Endpoint& b) {
    return a.is_ipv4_ == b.is_ipv4_ && a.port_ == b.port_ &&
           a.address_ == b.address_;
  }
  friend bool operator!=(const Endpoint& a, const Endpoint& b) {
    return !(a == b);
  }
  template <typename H>
  friend H AbslHashValue(H h, const Endpoint& e) {
    return H::combine(std::move(h), e.is_ipv4_, e.port_, e.address_);
  }

 private:
  std::array<uint8_t, 16> address_{};
  uint16_t port_ = 0;
  bool is_ipv4_ = true;
};

}  // namespace snaptun::core

#endif  // SNAPTUN_TUNNEL_CORE_ENDPOINT_H_
