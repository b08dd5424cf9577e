// MultiSourceSocket and the load clients' handshakes.
#include "tests/testing/load_clients.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/time/clock.h"
#include "tunnel/core/messages.h"
#include "tunnel/io/socket_address.h"

namespace snaptun::testing {

std::array<uint8_t, 4> LoadSourceAddress(size_t i) {
  ++i;
  return {127, static_cast<uint8_t>(1 + (i >> 16)),
          static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
}

size_t LoadSourceIndex(const in_addr& address) {
  const uint8_t* b = reinterpret_cast<const uint8_t*>(&address);
  return ((static_cast<size_t>(b[1]) - 1) << 16 | b[2] << 8 | b[3]) - 1;
}

MultiSourceSocket::MultiSourceSocket() {
  fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  const int one = 1;
  setsockopt(fd_, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
  const int buffer = 32 << 20;
  setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof(buffer));
  setsockopt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, &buffer, sizeof(buffer));
  sockaddr_in any{};
  any.sin_family = AF_INET;
  bind(fd_, reinterpret_cast<sockaddr*>(&any), sizeof(any));
  socklen_t length = sizeof(any);
  getsockname(fd_, reinterpret_cast<sockaddr*>(&any), &length);
  port_ = ntohs(any.sin_port);
}

MultiSourceSocket::~MultiSourceSocket() { close(fd_); }

void MultiSourceSocket::Send(size_t source, const core::Endpoint& to,
                             absl::Span<const uint8_t> datagram) {
  io::SocketAddress address = io::ToSocketAddress(to);
  iovec iov{const_cast<uint8_t*>(datagram.data()), datagram.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo))] = {};
  msghdr h{};
  h.msg_name = address.get();
  h.msg_namelen = address.length;
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  h.msg_control = control;
  h.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&h);
  c->cmsg_level = IPPROTO_IP;
  c->cmsg_type = IP_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
  in_pktinfo info{};
  const std::array<uint8_t, 4> ip = LoadSourceAddress(source);
  std::memcpy(&info.ipi_spec_dst, ip.data(), 4);
  std::memcpy(CMSG_DATA(c), &info, sizeof(info));
  while (sendmsg(fd_, &h, 0) < 0 && errno == EAGAIN) {
    pollfd p{fd_, POLLOUT, 0};
    poll(&p, 1, 10);
  }
}

bool MultiSourceSocket::ReceiveOne(size_t& index,
                                   absl::Span<uint8_t>& datagram) {
  for (;;) {
    alignas(cmsghdr) char control[256];
    iovec iov{buffer_, sizeof(buffer_)};
    msghdr h{};
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    h.msg_control = control;
    h.msg_controllen = sizeof(control);
    const ssize_t n = recvmsg(fd_, &h, 0);
    if (n < 0) return false;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof(info));
        index = LoadSourceIndex(info.ipi_addr);
        datagram = absl::MakeSpan(buffer_, static_cast<size_t>(n));
        return true;
      }
    }
  }
}

crypto::PrivateKey LoadClientKey(size_t i) {
  crypto::PrivateKey key;
  std::fill(key.data(), key.data() + key.size(), 0x42);
  // Past byte 0, whose low bits X25519 clamps away.
  std::memcpy(key.data() + 1, &i, sizeof(i));
  return key;
}

std::vector<LoadClient> MakeLoadClients(size_t count,
                                        const crypto::PublicKey& gateway_key,
                                        crypto::RandomSource& rng) {
  std::vector<LoadClient> clients(count);
  core::PeerOutput out;
  const absl::Time now = absl::Now();
  for (size_t i = 0; i < count; ++i) {
    clients[i].identity =
        std::make_unique<core::LocalIdentity>(LoadClientKey(i));
    clients[i].peer = std::make_unique<core::Peer>(
        *clients[i].identity, gateway_key, core::PeerConfig{}, rng);
    out.Clear();
    clients[i].peer->Connect(now, out);
    clients[i].initiation = std::move(out.to_network.front());
  }
  return clients;
}

absl::Duration RunLoadHandshakes(std::vector<LoadClient>& clients,
                                 const core::Endpoint& gateway, bool complete,
                                 size_t& answered, MultiSourceSocket* given) {
  MultiSourceSocket own;
  MultiSourceSocket& socket = given != nullptr ? *given : own;
  constexpr size_t kWindow = 256;
  size_t next = 0;
  answered = 0;
  core::PeerOutput out;
  const absl::Time start = absl::Now();
  absl::Time last_progress = start;
  while (answered < clients.size()) {
    while (next < clients.size() && next - answered < kWindow) {
      socket.Send(next, gateway, clients[next].initiation);
      ++next;
    }
    pollfd p{socket.fd(), POLLIN, 0};
    poll(&p, 1, 100);
    const size_t got = socket.Receive([&](size_t index, absl::Span<uint8_t> d) {
      if (index >= clients.size() || clients[index].answered) return;
      const std::optional<core::MessageType> type =
          core::Classify(d, core::Mode::kSnap);
      if (type != core::MessageType::kResponse) return;
      clients[index].answered = true;
      ++answered;
      if (!complete) return;
      out.Clear();
      clients[index].peer->Receive(absl::Now(), *type, d, gateway, out);
      for (const auto& datagram : out.to_network) {
        socket.Send(index, gateway, datagram);
      }
    });
    if (got > 0) last_progress = absl::Now();
    if (absl::Now() - last_progress > absl::Seconds(5)) break;  // Lost some.
  }
  return absl::Now() - start;
}

}  // namespace snaptun::testing
