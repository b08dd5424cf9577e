// What arrives beside a received datagram, parsed from the control messages
// of one recvmmsg slot (the GRO segment size, the socket's drop counter),
// and the splitting of a GRO-coalesced read into its datagrams. Pure
// functions over bytes, so they can be fuzzed without a socket.
#ifndef SNAPTUN_TUNNEL_IO_RECEIVE_CONTROL_H_
#define SNAPTUN_TUNNEL_IO_RECEIVE_CONTROL_H_

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/types/span.h"

namespace snaptun::io {

struct ReceiveControl {
  // The segment size of a GRO-coalesced read; 0 when not coalesced.
  size_t gro_segment = 0;
  // SO_RXQ_OVFL: how many datagrams the kernel has dropped on this socket
  // since it was opened (a running total), when the socket asked for it.
  std::optional<uint32_t> kernel_drops;
};

// Parses the control messages of `header` (msg_control/msg_controllen).
ReceiveControl ParseReceiveControl(const msghdr& header);

// Turns the running SO_RXQ_OVFL total of one socket into what is new since
// the previous read (the 32-bit total wraps; the difference does not care).
class KernelDropCounter {
 public:
  uint32_t Update(std::optional<uint32_t> total) {
    if (!total.has_value()) return 0;
    const uint32_t added = *total - seen_;
    seen_ = *total;
    return added;
  }

 private:
  uint32_t seen_ = 0;
};

// The datagrams of a read of `read.size()` bytes that the kernel coalesced
// at `segment` bytes (the last may be shorter); a `segment` of 0 or larger
// than the read means one datagram. Calls `each` in order; returns how many.
template <typename Each>
size_t ForEachSegment(absl::Span<uint8_t> read, size_t segment, Each each) {
  if (read.empty()) return 0;
  if (segment == 0 || segment > read.size()) segment = read.size();
  size_t count = 0;
  for (size_t offset = 0; offset < read.size(); offset += segment) {
    each(read.subspan(offset, segment));
    ++count;
  }
  return count;
}

}  // namespace snaptun::io

#endif  // SNAPTUN_TUNNEL_IO_RECEIVE_CONTROL_H_
