// The two roles a tunnel plays: the client end, opened by OpenTunnel, and
// the gateway end, accepted from a client's initiation. Sessions, metrics
// (the `role` label) and the API (snaptun.v1.Role) all name a tunnel's role
// with this.
#ifndef SNAPTUN_SERVICE_ROLE_H_
#define SNAPTUN_SERVICE_ROLE_H_

#include <cstdint>

namespace snaptun::service {

enum class Role : uint8_t { kClient, kGateway };

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_ROLE_H_
