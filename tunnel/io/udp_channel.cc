// UDP sockets behind the transport seam.
#include "tunnel/io/udp_channel.h"

namespace snaptun::io {

absl::StatusOr<ReceiveStats> UdpChannel::Receive(
    BatchReceiver& receiver, const BatchReceiver::Handler& handler) {
  absl::StatusOr<ReceiveStats> received =
      receiver.Receive(socket_.fd(), handler);
  error_ = receiver.error();
  return received;
}

UdpNetwork& UdpNetwork::Get() {
  static UdpNetwork* network = new UdpNetwork();
  return *network;
}

absl::StatusOr<std::unique_ptr<DatagramChannel>> UdpNetwork::Bind(
    const core::Endpoint& local, const UdpSocketOptions& options) {
  absl::StatusOr<UdpSocket> socket = UdpSocket::Bind(local, options);
  if (!socket.ok()) return socket.status();
  return std::make_unique<UdpChannel>(std::move(*socket));
}

absl::StatusOr<std::unique_ptr<DatagramChannel>> UdpNetwork::Connect(
    const core::Endpoint& remote, const UdpSocketOptions& options) {
  absl::StatusOr<UdpSocket> socket = UdpSocket::Connect(remote, options);
  if (!socket.ok()) return socket.status();
  return std::make_unique<UdpChannel>(std::move(*socket));
}

}  // namespace snaptun::io
