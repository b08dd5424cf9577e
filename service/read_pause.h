// Pausing the reads of a socket that keeps failing. Under level-triggered
// epoll a persistent read error wakes the worker again at once: a silent
// hot loop (the reference's W28). Each failure pauses reading for a delay
// that doubles from 10 ms up to 1 s; a successful read starts over. The
// caller counts the failures and reports persistent ones
// (socket_error_watch.h).
#ifndef SNAPTUN_SERVICE_READ_PAUSE_H_
#define SNAPTUN_SERVICE_READ_PAUSE_H_

#include <algorithm>

#include "absl/time/time.h"

namespace snaptun::service {

class ReadPause {
 public:
  static constexpr absl::Duration kFirst = absl::Milliseconds(10);
  static constexpr absl::Duration kMax = absl::Seconds(1);

  // How long to stop reading after this failure.
  absl::Duration Failed() {
    const absl::Duration delay = next_;
    next_ = std::min(next_ * 2, kMax);
    return delay;
  }
  void Succeeded() { next_ = kFirst; }

 private:
  absl::Duration next_ = kFirst;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_READ_PAUSE_H_
