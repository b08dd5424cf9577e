// The real transport: DatagramChannel over a non-blocking UDP socket, read
// with recvmmsg (BatchReceiver) and written with sendmmsg and GSO
// (BatchSender). UdpNetwork::Get() is the one the daemon uses.
#ifndef SNAPTUN_TUNNEL_IO_UDP_CHANNEL_H_
#define SNAPTUN_TUNNEL_IO_UDP_CHANNEL_H_

#include <memory>
#include <optional>
#include <utility>

#include "absl/status/statusor.h"
#include "tunnel/io/datagram_channel.h"
#include "tunnel/io/udp_socket.h"

namespace snaptun::io {

class UdpChannel final : public DatagramChannel {
 public:
  explicit UdpChannel(UdpSocket socket) : socket_(std::move(socket)) {}

  int readiness_fd() const override { return socket_.fd(); }
  absl::StatusOr<ReceiveStats> Receive(
      BatchReceiver& receiver, const BatchReceiver::Handler& handler) override;
  int error() const override { return error_; }
  FlushStats Flush(BatchSender& sender) override {
    return sender.Flush(socket_.fd(), socket_.connected());
  }
  std::optional<uint32_t> KernelDrops() const override {
    return socket_.KernelDrops();
  }
  absl::StatusOr<core::Endpoint> LocalEndpoint() const override {
    return socket_.LocalEndpoint();
  }
  int receive_buffer_bytes() const override {
    return socket_.receive_buffer_bytes();
  }
  int send_buffer_bytes() const override { return socket_.send_buffer_bytes(); }

 private:
  UdpSocket socket_;
  int error_ = 0;
};

class UdpNetwork final : public DatagramNetwork {
 public:
  // The process's UDP network (stateless, never destroyed).
  static UdpNetwork& Get();
  // `network`, or the UDP network when it is null (a config's default).
  static DatagramNetwork& Or(DatagramNetwork* network) {
    return network != nullptr ? *network : Get();
  }

  absl::StatusOr<std::unique_ptr<DatagramChannel>> Bind(
      const core::Endpoint& local, const UdpSocketOptions& options) override;
  absl::StatusOr<std::unique_ptr<DatagramChannel>> Connect(
      const core::Endpoint& remote, const UdpSocketOptions& options) override;
};

}  // namespace snaptun::io

#endif  // SNAPTUN_TUNNEL_IO_UDP_CHANNEL_H_
