// Queues outgoing datagrams and sends them with sendmmsg, merging runs of
// same-destination datagrams into UDP GSO sends. A merged send never exceeds
// what one UDP datagram may carry (65507 bytes) nor 64 segments, and its
// last segment may be shorter (the reference merged up to 64 segments
// regardless of size and hit EMSGSIZE, W5). A send the kernel refuses drops
// exactly the datagrams of that send, counted, and the rest go on (the
// reference kept retrying the failing head and wedged, W4). A full socket
// buffer gets one short wait for writability, then the remainder is dropped
// and counted: a sender never blocks its worker.
#ifndef SNAPTUN_TUNNEL_IO_BATCH_SENDER_H_
#define SNAPTUN_TUNNEL_IO_BATCH_SENDER_H_

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "absl/types/span.h"
#include "tunnel/core/endpoint.h"
#include "tunnel/core/verdict.h"
#include "tunnel/io/socket_address.h"

namespace snaptun::io {

struct FlushStats {
  size_t sent = 0;     // Datagrams the kernel accepted.
  size_t dropped = 0;  // Datagrams refused or abandoned on a full buffer.
  size_t sends = 0;    // sendmmsg calls.
  int last_error = 0;  // errno of the last refused send, 0 if none.
  // `dropped` by cause: a send buffer still full after the wait (EAGAIN),
  // no buffer space (ENOBUFS), any other error.
  size_t buffer_full = 0;
  size_t no_buffer_space = 0;
  size_t other_error = 0;

  // Calls fn(reason, count) for each cause with drops.
  template <typename Fn>
  void ForEachDrop(Fn&& fn) const {
    if (buffer_full != 0) fn(core::DropReason::kSendBufferFull, buffer_full);
    if (no_buffer_space != 0) {
      fn(core::DropReason::kSendNoBufferSpace, no_buffer_space);
    }
    if (other_error != 0) fn(core::DropReason::kSendError, other_error);
  }
};

class BatchSender {
 public:
  static constexpr size_t kMaxGsoBytes = 65507;
  static constexpr size_t kMaxGsoSegments = 64;

  explicit BatchSender(size_t capacity = 256, bool gso = true);

  bool full() const { return count_ == slots_.size(); }
  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  bool gso() const { return gso_; }

  // A buffer of `max_size` bytes for a datagram to `to`, written in place;
  // Commit(n) queues its first n bytes. Empty when the queue is full.
  absl::Span<uint8_t> Reserve(const core::Endpoint& to, size_t max_size);
  void Commit(size_t size);
  // Copies `datagram`; false when the queue is full.
  bool Queue(const core::Endpoint& to, absl::Span<const uint8_t> datagram);

  // Sends everything queued on `fd`. With `connected`, destinations are left
  // to the socket. The queue is empty afterwards.
  FlushStats Flush(int fd, bool connected);
  // Hands every queued datagram to `send` one by one, in order, and empties
  // the queue: for transports without a socket (memory_network.h). `send`
  // returns 0 or the errno it failed with, counted as a drop.
  FlushStats FlushEach(
      const std::function<int(const core::Endpoint& to,
                              absl::Span<const uint8_t> datagram)>& send);

 private:
  struct Slot {
    core::Endpoint to;
    std::vector<uint8_t> bytes;
    size_t size = 0;
  };
  struct Send {
    size_t first = 0;  // Slot index.
    size_t count = 0;  // Datagrams (segments).
    uint16_t segment = 0;
  };

  // Groups the queued slots from `first_slot` into sends and fills the
  // headers for them.
  void Plan(size_t first_slot, bool connected);

  std::vector<Slot> slots_;
  size_t count_ = 0;
  bool gso_;
  // Scratch for one flush.
  std::vector<Send> plan_;
  std::vector<mmsghdr> headers_;
  std::vector<iovec> iovecs_;
  std::vector<SocketAddress> addresses_;
  std::vector<std::array<uint8_t, 32>> controls_;
};

}  // namespace snaptun::io

#endif  // SNAPTUN_TUNNEL_IO_BATCH_SENDER_H_
