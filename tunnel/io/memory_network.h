// An in-memory datagram network for tests: the transport seam's second
// implementation. Channels bind and connect as UDP sockets on one host do
// (a connected channel hears only its remote, reuse_port channels share an
// address by the sender's address, a wildcard bind hears every address of
// its family), and a datagram travels by being copied into the receiving
// channel's queue at once. Nothing is lost unless the test loses it (a
// filter) or the receiver's queue is over its byte budget (the channel's
// receive_buffer_bytes), which counts as the kernel's receive-buffer drops
// would. Readiness is an eventfd, readable exactly while the queue holds a
// datagram, so a worker's event loop watches a channel as it would a socket.
//
// Every channel is on one host: a connected channel binds the loopback
// address of its remote's family, and a wildcard-bound one sends from it.
// An IPv6 wildcard does not also take IPv4 here.
//
// Threads: any; one mutex guards the network. Channels may outlive it.
// A test target only (//tunnel/io:memory_network); the daemon never links it.
#ifndef SNAPTUN_TUNNEL_IO_MEMORY_NETWORK_H_
#define SNAPTUN_TUNNEL_IO_MEMORY_NETWORK_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "tunnel/core/endpoint.h"
#include "tunnel/io/datagram_channel.h"
#include "tunnel/io/udp_socket.h"

namespace snaptun::io {
namespace memory_internal {
struct State;  // Shared by the network and its channels.
}  // namespace memory_internal

class MemoryNetwork final : public DatagramNetwork {
 public:
  // Decides each datagram's fate before it is queued: false loses it.
  // Runs on the sending thread under the network's lock: it must not call
  // the network, block, or take a lock the test holds while it does.
  using Filter =
      std::function<bool(const core::Endpoint& from, const core::Endpoint& to,
                         absl::Span<const uint8_t> datagram)>;
  struct Counts {
    uint64_t queued = 0;       // Reached a receiver's queue.
    uint64_t filtered = 0;     // Lost to the filter.
    uint64_t unreachable = 0;  // Nobody bound at the destination.
    uint64_t overflow = 0;     // Receiver's queue over its budget.
  };

  MemoryNetwork();
  ~MemoryNetwork() override;
  MemoryNetwork(const MemoryNetwork&) = delete;
  MemoryNetwork& operator=(const MemoryNetwork&) = delete;

  absl::StatusOr<std::unique_ptr<DatagramChannel>> Bind(
      const core::Endpoint& local, const UdpSocketOptions& options) override;
  absl::StatusOr<std::unique_ptr<DatagramChannel>> Connect(
      const core::Endpoint& remote, const UdpSocketOptions& options) override;

  // Replaces the filter; an empty one passes everything.
  void SetFilter(Filter filter);
  Counts counts() const;

 private:
  std::shared_ptr<memory_internal::State> state_;
};

}  // namespace snaptun::io

#endif  // SNAPTUN_TUNNEL_IO_MEMORY_NETWORK_H_
