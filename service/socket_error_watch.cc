// The run of failures and its reports; see the header.
#include "service/socket_error_watch.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace snaptun::service {
namespace {

absl::string_view ErrnoName(int error) {
  switch (error) {
    case EAGAIN:
      return "EAGAIN";
    case ENOBUFS:
      return "ENOBUFS";
    case ECONNREFUSED:
      return "ECONNREFUSED";
    case EHOSTUNREACH:
      return "EHOSTUNREACH";
    case ENETUNREACH:
      return "ENETUNREACH";
    case EPERM:
      return "EPERM";
    case EMSGSIZE:
      return "EMSGSIZE";
    default:
      return "errno";
  }
}

}  // namespace

std::optional<std::string> SocketErrorWatch::Failed(absl::Time now,
                                                    absl::string_view operation,
                                                    int error, size_t dropped) {
  if (!failing_) {
    failing_ = true;
    since_ = now;
    reported_.reset();
    dropped_ = 0;
  }
  dropped_ += dropped;
  if (now - since_ < config_.persist) return std::nullopt;
  if (reported_.has_value() && now - *reported_ < config_.repeat) {
    return std::nullopt;
  }
  reported_ = now;
  std::string reason =
      absl::StrFormat("%s failing for %.1f s: %s %d (%s); %d datagrams dropped",
                      operation, absl::ToDoubleSeconds(now - since_),
                      ErrnoName(error), error, std::strerror(error), dropped_);
  dropped_ = 0;
  return reason;
}

void SocketErrorWatch::Succeeded() { failing_ = false; }

}  // namespace snaptun::service
