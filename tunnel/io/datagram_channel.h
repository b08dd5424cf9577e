// The transport seam of the data plane: a DatagramChannel is one datagram
// socket as the packet pump sees it (a readiness fd for the worker's loop, a
// batch receive, a flush of the worker's batch sender, the kernel's drop
// count, the local address), and a DatagramNetwork opens channels (bound, as
// a gateway's, or connected, as a client tunnel's). The daemon runs on
// UdpNetwork (udp_channel.h), real UDP sockets; tests may run the same
// drivers on MemoryNetwork (memory_network.h), where no datagram is lost
// unless the test says so and nothing depends on the kernel's timing.
//
// Threads: a channel is used by the one worker thread that owns it; a
// network may be used from any thread.
#ifndef SNAPTUN_TUNNEL_IO_DATAGRAM_CHANNEL_H_
#define SNAPTUN_TUNNEL_IO_DATAGRAM_CHANNEL_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "tunnel/core/endpoint.h"
#include "tunnel/io/batch_receiver.h"
#include "tunnel/io/batch_sender.h"
#include "tunnel/io/udp_socket.h"

namespace snaptun::io {

class DatagramChannel {
 public:
  virtual ~DatagramChannel() = default;

  // Polls readable (level-triggered) while datagrams wait to be received.
  // Unique among the process's open channels.
  virtual int readiness_fd() const = 0;
  // One batch of waiting datagrams, each handed to `handler` with its
  // source; `receiver` lends its buffers where the channel needs them.
  // The spans stay valid until the next Receive on this channel or with
  // this receiver, and never beyond the channel's life. Nothing waiting gives
  // zero datagrams, not an error; a failure records its errno (error()).
  virtual absl::StatusOr<ReceiveStats> Receive(
      BatchReceiver& receiver, const BatchReceiver::Handler& handler) = 0;
  // The errno of the last Receive that failed, 0 after one that did not.
  virtual int error() const = 0;
  // Sends everything queued on `sender` (to the connected remote, for a
  // connected channel) and empties it.
  virtual FlushStats Flush(BatchSender& sender) = 0;
  // Datagrams dropped on this channel's full receive queue so far.
  virtual std::optional<uint32_t> KernelDrops() const = 0;
  virtual absl::StatusOr<core::Endpoint> LocalEndpoint() const = 0;
  // The receive and send buffers granted, in bytes (see UdpSocket).
  virtual int receive_buffer_bytes() const = 0;
  virtual int send_buffer_bytes() const = 0;
};

class DatagramNetwork {
 public:
  virtual ~DatagramNetwork() = default;
  // A channel bound to `local` (port 0: a free one). With
  // options.reuse_port, channels bound to one address share its traffic,
  // each remote address staying with one of them.
  virtual absl::StatusOr<std::unique_ptr<DatagramChannel>> Bind(
      const core::Endpoint& local, const UdpSocketOptions& options) = 0;
  // A channel on a free local port that exchanges datagrams with `remote`
  // only.
  virtual absl::StatusOr<std::unique_ptr<DatagramChannel>> Connect(
      const core::Endpoint& remote, const UdpSocketOptions& options) = 0;
};

// Flushes `sender` through `channel`, or, when there is no channel (it was
// closed under the sender), drops everything queued as failed sends (EBADF),
// so nothing is left in a worker's sender for the next tunnel to send.
FlushStats FlushOrDrop(DatagramChannel* channel, BatchSender& sender);

}  // namespace snaptun::io

#endif  // SNAPTUN_TUNNEL_IO_DATAGRAM_CHANNEL_H_
