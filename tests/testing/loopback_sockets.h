// Loopback sockets tests need as props: one bound to a port the kernel
// picked (and nothing else), and a TCP connection that never sends.
#ifndef SNAPTUN_TESTS_TESTING_LOOPBACK_SOCKETS_H_
#define SNAPTUN_TESTS_TESTING_LOOPBACK_SOCKETS_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>

namespace snaptun::testing {

// A socket of `type` (SOCK_STREAM, SOCK_DGRAM) bound to 127.0.0.1 on a port
// the kernel picked, neither listening nor read; its port goes to `port`.
inline int BoundLoopbackSocket(int type, int* port) {
  const int fd = socket(AF_INET, type, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  *port = ntohs(address.sin_port);
  return fd;
}

// A TCP connection to 127.0.0.1:`port` that sends nothing (slowloris); -1
// when the connection failed.
inline int IdleTcpConnection(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
      0) {
    return -1;
  }
  return fd;
}

}  // namespace snaptun::testing

#endif  // SNAPTUN_TESTS_TESTING_LOOPBACK_SOCKETS_H_
