// Wakes a server whose stop waits on its accept poll. civetweb's master
// thread notices mg_stop only when its poll of the listening sockets returns,
// and that poll waits up to 2 s (a compile-time quantum), so every stop of the
// metrics server took 2 s. While an AcceptNudger lives, a thread connects to
// the server's own port every few milliseconds and hangs up at once; the
// connection makes the poll return, and the stop completes in milliseconds.
// A connection made just before the stop is an empty request the server
// closes.
#ifndef SNAPTUN_METRICS_ACCEPT_NUDGER_H_
#define SNAPTUN_METRICS_ACCEPT_NUDGER_H_

#include <sys/socket.h>

#include <string>
#include <thread>

#include "absl/synchronization/notification.h"

namespace snaptun::metrics {

class AcceptNudger {
 public:
  // `listen` is the server's "host:port" as configured; `port` the port it
  // bound. A wildcard or empty host is reached on loopback. Does nothing
  // when the address cannot be resolved.
  AcceptNudger(const std::string& listen, int port);
  ~AcceptNudger();
  AcceptNudger(const AcceptNudger&) = delete;
  AcceptNudger& operator=(const AcceptNudger&) = delete;

 private:
  void Run();

  sockaddr_storage address_{};
  socklen_t address_size_ = 0;
  absl::Notification done_;
  std::thread thread_;
};

}  // namespace snaptun::metrics

#endif  // SNAPTUN_METRICS_ACCEPT_NUDGER_H_
