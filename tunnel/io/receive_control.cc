// Control-message parsing for received datagrams.
#include "tunnel/io/receive_control.h"

#include <netinet/in.h>
#include <netinet/udp.h>

#include <cstring>

#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif

namespace snaptun::io {

ReceiveControl ParseReceiveControl(const msghdr& header) {
  ReceiveControl control;
  for (cmsghdr* c = CMSG_FIRSTHDR(&header); c != nullptr;
       c = CMSG_NXTHDR(const_cast<msghdr*>(&header), c)) {
    const size_t data =
        c->cmsg_len >= CMSG_LEN(0) ? c->cmsg_len - CMSG_LEN(0) : 0;
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
        data >= sizeof(int)) {
      int size = 0;
      std::memcpy(&size, CMSG_DATA(c), sizeof(size));
      control.gro_segment = size > 0 ? static_cast<size_t>(size) : 0;
    } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL &&
               data >= sizeof(uint32_t)) {
      uint32_t drops = 0;
      std::memcpy(&drops, CMSG_DATA(c), sizeof(drops));
      control.kernel_drops = drops;
    }
  }
  return control;
}

}  // namespace snaptun::io
