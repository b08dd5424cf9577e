// Resolves the server's own address and connects to it until told to stop.
#include "metrics/accept_nudger.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"

namespace snaptun::metrics {
namespace {

constexpr absl::Duration kNudgeEvery = absl::Milliseconds(5);

// The host part of "host:port" ("[v6]:port" too), with a wildcard, empty or
// missing host (civetweb takes a bare port) replaced by loopback of the same
// family.
std::string HostToReach(const std::string& listen) {
  absl::string_view host = listen;
  const size_t colon = host.rfind(':');
  if (colon == host.npos) return "127.0.0.1";
  host = host.substr(0, colon);
  host = absl::StripPrefix(absl::StripSuffix(host, "]"), "[");
  if (host.empty() || host == "0.0.0.0") return "127.0.0.1";
  if (host == "::") return "::1";
  return std::string(host);
}

}  // namespace

AcceptNudger::AcceptNudger(const std::string& listen, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (port <= 0 ||
      getaddrinfo(HostToReach(listen).c_str(), absl::StrCat(port).c_str(),
                  &hints, &found) != 0) {
    return;
  }
  if (found != nullptr && found->ai_addrlen <= sizeof(address_)) {
    std::memcpy(&address_, found->ai_addr, found->ai_addrlen);
    address_size_ = found->ai_addrlen;
  }
  freeaddrinfo(found);
  if (address_size_ != 0) thread_ = std::thread([this] { Run(); });
}

AcceptNudger::~AcceptNudger() {
  done_.Notify();
  if (thread_.joinable()) thread_.join();
}

void AcceptNudger::Run() {
  do {
    const int fd = socket(address_.ss_family,
                          SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return;
    // Non-blocking, and given one interval to complete: an address that
    // does not answer costs an interval, never the kernel's SYN timeout. A
    // refused or failed connect changes nothing: the server is stopping.
    if (connect(fd, reinterpret_cast<const sockaddr*>(&address_),
                address_size_) != 0 &&
        errno == EINPROGRESS) {
      pollfd writable{fd, POLLOUT, 0};
      (void)poll(&writable, 1,
                 static_cast<int>(absl::ToInt64Milliseconds(kNudgeEvery)));
    }
    close(fd);
  } while (!done_.WaitForNotificationWithTimeout(kNudgeEvery));
}

}  // namespace snaptun::metrics
