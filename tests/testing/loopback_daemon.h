// A daemon for tests and benches on loopback: the API, /metrics and the
// gateway role on ports the kernel picks, two workers, the gateway's
// handshake rate limits lifted (many load clients handshake at once from
// one host), and a fresh private key.
#ifndef SNAPTUN_TESTS_TESTING_LOOPBACK_DAEMON_H_
#define SNAPTUN_TESTS_TESTING_LOOPBACK_DAEMON_H_

#include <string>

#include "service/daemon/daemon.h"

namespace snaptun::testing {

// Sets those fields of `config` and removes any key left at `key_path`, so
// the daemon generates one there.
void UseLoopbackGateway(service::DaemonConfig& config,
                        const std::string& key_path);

}  // namespace snaptun::testing

#endif  // SNAPTUN_TESTS_TESTING_LOOPBACK_DAEMON_H_
