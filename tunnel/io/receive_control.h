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

// Turns the running SO_RXQ_OVFL total of one socket into the datagrams
// dropped since the previous read (the 32-bit total wraps; the difference
// does not care). The kernel counts a drop per buffer it could not queue,
// and with UDP GRO one buffer holds a coalesced run of up to 64 datagrams.
// So each new drop is weighed by the datagrams per read this socket has
// been receiving lately (a moving average; the fraction left by rounding is
// carried over, so the total does not drift). Without GRO every read is one
// datagram and the count is exact; with it, it is an estimate (see
// docs/OPERATIONS.md, "Where packets can be lost").
class KernelDropCounter {
 public:
  // `reads`: buffers read in this batch; `datagrams`: the datagrams they
  // held.
  uint64_t Update(std::optional<uint32_t> total, size_t reads,
                  size_t datagrams);
  // Buffers the kernel reported dropped, unweighted.
  uint64_t buffers_dropped() const { return buffers_; }

 private:
  uint32_t seen_ = 0;
  uint64_t buffers_ = 0;
  double recent_reads_ = 0;
  double recent_datagrams_ = 0;
  double carry_ = 0;
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
