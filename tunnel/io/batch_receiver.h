// Receives a batch of datagrams with one recvmmsg call. Each slot is sized
// for a GRO-coalesced read (64 KiB), so the kernel can never truncate one
// (the reference sized its slots at 9 KiB with GRO on, W17); a coalesced read
// is split at the segment size the kernel reports, and every datagram is
// handed to the caller one by one with its source. The buffers belong to the
// receiver and are reused by every call; one receiver serves every socket of
// a worker, since a worker reads one socket at a time.
#ifndef SNAPTUN_TUNNEL_IO_BATCH_RECEIVER_H_
#define SNAPTUN_TUNNEL_IO_BATCH_RECEIVER_H_

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "tunnel/core/endpoint.h"
#include "tunnel/io/socket_address.h"

namespace snaptun::io {

struct ReceiveStats {
  size_t datagrams = 0;  // Handed to the caller.
  size_t reads = 0;      // Buffers read that held them (fewer with GRO).
  size_t truncated = 0;  // Did not fit a slot (never with GRO-sized slots).
  size_t empty = 0;      // Zero-length datagrams, ignored.
  // The socket's running count of datagrams the kernel dropped on a full
  // receive buffer, as of the newest datagram read (SO_RXQ_OVFL).
  std::optional<uint32_t> kernel_drops;
};

class BatchReceiver {
 public:
  static constexpr size_t kSlotSize = 65536;

  explicit BatchReceiver(size_t slots = 64);

  using Handler =
      std::function<void(absl::Span<uint8_t> datagram, const core::Endpoint&)>;

  // One recvmmsg. A socket with nothing to read, or an ICMP error queued on
  // a connected socket, gives zero datagrams rather than an error.
  absl::StatusOr<ReceiveStats> Receive(int fd, const Handler& handler);
  // The errno of the last Receive that failed, 0 after one that did not.
  int error() const { return error_; }
  // Reads per Receive at most.
  size_t slots() const { return headers_.size(); }

 private:
  std::vector<uint8_t> buffers_;
  std::vector<mmsghdr> headers_;
  std::vector<iovec> iovecs_;
  std::vector<SocketAddress> sources_;
  std::vector<std::array<uint8_t, 64>> controls_;
  int error_ = 0;
};

}  // namespace snaptun::io

#endif  // SNAPTUN_TUNNEL_IO_BATCH_RECEIVER_H_
