// `snaptund --self_check`: a smoke test that needs nothing but the binary
// (used in the container image test). A daemon on loopback ports with a
// throwaway key authorizes itself, opens a tunnel to its own gateway, sends
// one packet through it and receives it on the gateway side, then drains.
#ifndef SNAPTUN_SERVICE_DAEMON_SELF_CHECK_H_
#define SNAPTUN_SERVICE_DAEMON_SELF_CHECK_H_

namespace snaptun::service {

// Exit status: 0 when the packet arrived intact.
int SelfCheck();

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_DAEMON_SELF_CHECK_H_
