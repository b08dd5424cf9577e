// recvmmsg with GRO splitting.
#include "tunnel/io/batch_receiver.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "tunnel/io/receive_control.h"

namespace snaptun::io {
BatchReceiver::BatchReceiver(size_t slots)
    : buffers_(slots * kSlotSize),
      headers_(slots),
      iovecs_(slots),
      sources_(slots),
      controls_(slots) {}

absl::StatusOr<ReceiveStats> BatchReceiver::Receive(int fd,
                                                    const Handler& handler) {
  const size_t slots = headers_.size();
  for (size_t i = 0; i < slots; ++i) {
    iovecs_[i] = {buffers_.data() + i * kSlotSize, kSlotSize};
    msghdr& h = headers_[i].msg_hdr;
    h = {};
    h.msg_name = &sources_[i].storage;
    h.msg_namelen = sizeof(sources_[i].storage);
    h.msg_iov = &iovecs_[i];
    h.msg_iovlen = 1;
    h.msg_control = controls_[i].data();
    h.msg_controllen = controls_[i].size();
    headers_[i].msg_len = 0;
  }
  int received;
  do {
    received = recvmmsg(fd, headers_.data(), static_cast<unsigned>(slots),
                        MSG_DONTWAIT, nullptr);
  } while (received < 0 && errno == EINTR);
  ReceiveStats stats;
  error_ = 0;
  if (received < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return stats;
    // ICMP errors reported on connected sockets are not fatal.
    if (errno == ECONNREFUSED || errno == EHOSTUNREACH ||
        errno == ENETUNREACH) {
      return stats;
    }
    error_ = errno;
    return absl::UnavailableError(
        absl::StrCat("recvmmsg: ", std::strerror(error_)));
  }
  for (int i = 0; i < received; ++i) {
    const msghdr& h = headers_[i].msg_hdr;
    const size_t length = headers_[i].msg_len;
    if ((h.msg_flags & MSG_TRUNC) != 0) {
      ++stats.truncated;
      continue;
    }
    if (length == 0) {
      ++stats.empty;
      continue;
    }
    const std::optional<core::Endpoint> from = FromSocketAddress(
        reinterpret_cast<const sockaddr*>(h.msg_name), h.msg_namelen);
    if (!from.has_value()) continue;
    const ReceiveControl control = ParseReceiveControl(h);
    ++stats.reads;
    if (control.kernel_drops.has_value()) {
      stats.kernel_drops = control.kernel_drops;
    }
    stats.datagrams += ForEachSegment(
        absl::MakeSpan(buffers_.data() + i * kSlotSize, length),
        control.gro_segment,
        [&](absl::Span<uint8_t> datagram) { handler(datagram, *from); });
  }
  return stats;
}

}  // namespace snaptun::io
