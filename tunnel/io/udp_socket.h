// A non-blocking UDP socket owned by one object: bound (optionally with
// SO_REUSEPORT so each worker of a gateway has its own socket on the same
// port), optionally connected (a client tunnel talks to one data plane, and a
// connected socket lets the kernel filter every other source), with UDP GRO
// turned on where the kernel offers it. Closing is RAII.
#ifndef SNAPTUN_TUNNEL_IO_UDP_SOCKET_H_
#define SNAPTUN_TUNNEL_IO_UDP_SOCKET_H_

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "tunnel/core/endpoint.h"

namespace snaptun::io {

struct UdpSocketOptions {
  bool reuse_port = false;
  // Ask the kernel to coalesce received datagrams (UDP_GRO).
  bool gro = true;
  int receive_buffer_bytes = 4 << 20;
  int send_buffer_bytes = 4 << 20;
};

class UdpSocket {
 public:
  UdpSocket() = default;
  ~UdpSocket();
  UdpSocket(UdpSocket&& other) noexcept;
  UdpSocket& operator=(UdpSocket&& other) noexcept;
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  static absl::StatusOr<UdpSocket> Bind(const core::Endpoint& local,
                                        const UdpSocketOptions& options);
  // Binds an ephemeral port of `remote`'s family and connects to `remote`.
  static absl::StatusOr<UdpSocket> Connect(const core::Endpoint& remote,
                                           const UdpSocketOptions& options);

  int fd() const { return fd_; }
  bool connected() const { return connected_; }
  bool gro() const { return gro_; }
  // The buffer sizes the kernel granted, in the terms they were asked in
  // (Linux reports twice the usable size, its bookkeeping included; this is
  // half of that). Below the request when the process may not exceed
  // net.core.rmem_max / wmem_max.
  int receive_buffer_bytes() const { return receive_buffer_bytes_; }
  int send_buffer_bytes() const { return send_buffer_bytes_; }
  // The kernel's running count of datagrams dropped on this socket's full
  // receive buffer, read now (SO_MEMINFO); the same counter SO_RXQ_OVFL
  // stamps on each datagram as it is queued. Reading it once the socket is
  // drained counts the drops after the last queued datagram too.
  std::optional<uint32_t> KernelDrops() const;
  absl::StatusOr<core::Endpoint> LocalEndpoint() const;
  void Close();

 private:
  explicit UdpSocket(int fd) : fd_(fd) {}

  int fd_ = -1;
  bool connected_ = false;
  bool gro_ = false;
  int receive_buffer_bytes_ = 0;
  int send_buffer_bytes_ = 0;
};

}  // namespace snaptun::io

#endif  // SNAPTUN_TUNNEL_IO_UDP_SOCKET_H_
