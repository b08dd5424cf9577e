// Whether a tunnel's socket keeps failing. One failed send (a full buffer
// in a burst) is normal and only counted; failures that persist are worth
// an event an operator sees on the tunnel. A run of failures with no
// success in between, lasting at least `persist`, is reported once with its
// cause and the datagrams it cost, then again at most every `repeat` while
// it lasts; a success ends the run.
#ifndef SNAPTUN_SERVICE_SOCKET_ERROR_WATCH_H_
#define SNAPTUN_SERVICE_SOCKET_ERROR_WATCH_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace snaptun::service {

struct SocketErrorWatchConfig {
  absl::Duration persist = absl::Seconds(1);
  absl::Duration repeat = absl::Seconds(30);
};

class SocketErrorWatch {
 public:
  explicit SocketErrorWatch(SocketErrorWatchConfig config = {})
      : config_(config) {}

  // `operation` ("sends", "receives") failed with errno `error`, costing
  // `dropped` datagrams. Returns the event's reason when one is due.
  std::optional<std::string> Failed(absl::Time now, absl::string_view operation,
                                    int error, size_t dropped);
  void Succeeded();
  bool failing() const { return failing_; }

 private:
  const SocketErrorWatchConfig config_;
  bool failing_ = false;
  absl::Time since_;
  std::optional<absl::Time> reported_;
  size_t dropped_ = 0;  // Since the last report.
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_SOCKET_ERROR_WATCH_H_
