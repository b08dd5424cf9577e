// Socket setup: family, options, bind, connect.
#include "tunnel/io/udp_socket.h"

#include <errno.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tunnel/io/socket_address.h"

#ifndef UDP_GRO
#define UDP_GRO 104
#endif

namespace snaptun::io {
namespace {

absl::Status Errno(absl::string_view what, const core::Endpoint& endpoint) {
  const int error = errno;
  const std::string message =
      absl::StrCat(what, " ", endpoint.ToString(), ": ", std::strerror(error));
  if (error == EADDRINUSE) return absl::AlreadyExistsError(message);
  if (error == EACCES || error == EPERM) {
    return absl::PermissionDeniedError(message);
  }
  if (error == EADDRNOTAVAIL || error == EAFNOSUPPORT) {
    return absl::InvalidArgumentError(message);
  }
  return absl::UnavailableError(message);
}

absl::Status Configure(int fd, const UdpSocketOptions& options,
                       const core::Endpoint& for_errors, bool& gro) {
  const int one = 1;
  if (options.reuse_port &&
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    return Errno("SO_REUSEPORT on", for_errors);
  }
  // Buffer sizes: with CAP_NET_ADMIN the FORCE variants go past the
  // kernel's rmem_max/wmem_max (a burst of 64 KiB datagrams overflows the
  // usual 208 KiB default); otherwise the kernel caps what is asked.
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &options.receive_buffer_bytes,
                 sizeof(int)) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &options.receive_buffer_bytes,
               sizeof(int));
  }
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &options.send_buffer_bytes,
                 sizeof(int)) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &options.send_buffer_bytes,
               sizeof(int));
  }
  // Every datagram read then carries the socket's count of datagrams the
  // kernel dropped on a full receive buffer (receive_control.h).
  setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
  gro = options.gro &&
        setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof(one)) == 0;
  return absl::OkStatus();
}

int GrantedBuffer(int fd, int option) {
  int bytes = 0;
  socklen_t length = sizeof(bytes);
  if (getsockopt(fd, SOL_SOCKET, option, &bytes, &length) != 0) return 0;
  return bytes / 2;
}

}  // namespace

UdpSocket::~UdpSocket() { Close(); }

UdpSocket::UdpSocket(UdpSocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      connected_(other.connected_),
      gro_(other.gro_),
      receive_buffer_bytes_(other.receive_buffer_bytes_),
      send_buffer_bytes_(other.send_buffer_bytes_) {}

UdpSocket& UdpSocket::operator=(UdpSocket&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    connected_ = other.connected_;
    gro_ = other.gro_;
    receive_buffer_bytes_ = other.receive_buffer_bytes_;
    send_buffer_bytes_ = other.send_buffer_bytes_;
  }
  return *this;
}

void UdpSocket::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

absl::StatusOr<UdpSocket> UdpSocket::Bind(const core::Endpoint& local,
                                          const UdpSocketOptions& options) {
  const SocketAddress address = ToSocketAddress(local);
  const int fd =
      socket(address.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket for", local);
  UdpSocket socket(fd);
  if (absl::Status status = Configure(fd, options, local, socket.gro_);
      !status.ok()) {
    return status;
  }
  if (bind(fd, address.get(), address.length) != 0) {
    return Errno("bind", local);
  }
  socket.receive_buffer_bytes_ = GrantedBuffer(fd, SO_RCVBUF);
  socket.send_buffer_bytes_ = GrantedBuffer(fd, SO_SNDBUF);
  return socket;
}

absl::StatusOr<UdpSocket> UdpSocket::Connect(const core::Endpoint& remote,
                                             const UdpSocketOptions& options) {
  const core::Endpoint any = remote.is_ipv4()
                                 ? core::Endpoint::Ipv4({0, 0, 0, 0}, 0)
                                 : core::Endpoint::Ipv6({}, 0);
  absl::StatusOr<UdpSocket> socket = Bind(any, options);
  if (!socket.ok()) return socket.status();
  const SocketAddress address = ToSocketAddress(remote);
  if (connect(socket->fd_, address.get(), address.length) != 0) {
    return Errno("connect to", remote);
  }
  socket->connected_ = true;
  return socket;
}

std::optional<uint32_t> UdpSocket::KernelDrops() const {
  uint32_t meminfo[SK_MEMINFO_VARS] = {};
  socklen_t length = sizeof(meminfo);
  if (fd_ < 0 ||
      getsockopt(fd_, SOL_SOCKET, SO_MEMINFO, meminfo, &length) != 0 ||
      length <= SK_MEMINFO_DROPS * sizeof(uint32_t)) {
    return std::nullopt;
  }
  return meminfo[SK_MEMINFO_DROPS];
}

absl::StatusOr<core::Endpoint> UdpSocket::LocalEndpoint() const {
  SocketAddress address;
  address.length = sizeof(address.storage);
  if (getsockname(fd_, address.get(), &address.length) != 0) {
    return absl::InternalError(
        absl::StrCat("getsockname: ", std::strerror(errno)));
  }
  std::optional<core::Endpoint> endpoint =
      FromSocketAddress(address.get(), address.length);
  if (!endpoint.has_value()) {
    return absl::InternalError("getsockname: unknown address family");
  }
  return *endpoint;
}

}  // namespace snaptun::io
