// Control-message parsing for received datagrams.
#include "tunnel/io/receive_control.h"

#include <netinet/in.h>
#include <netinet/udp.h>

#include <algorithm>
#include <cmath>
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

uint64_t KernelDropCounter::Update(std::optional<uint32_t> total, size_t reads,
                                   size_t datagrams) {
  // Each batch counts a little less than the one after it: about the last
  // eight batches decide the weight.
  constexpr double kKeep = 0.875;
  if (reads > 0) {
    recent_reads_ = recent_reads_ * kKeep + static_cast<double>(reads);
    recent_datagrams_ =
        recent_datagrams_ * kKeep + static_cast<double>(datagrams);
  }
  if (!total.has_value()) return 0;
  // Two sources feed this total: the count read now (SO_MEMINFO) and the
  // count stamped on a datagram when it was queued (SO_RXQ_OVFL), which may
  // be older. Only a count ahead of the last one seen moves it (as a signed
  // 32-bit difference, so the wrap of the running total still counts).
  const int32_t ahead = static_cast<int32_t>(*total - seen_);
  if (ahead <= 0) return 0;
  const uint32_t added = static_cast<uint32_t>(ahead);
  seen_ = *total;
  buffers_ += added;
  const double per_read = recent_reads_ > 0
                              ? std::max(1.0, recent_datagrams_ / recent_reads_)
                              : 1.0;
  const double weighed = static_cast<double>(added) * per_read + carry_;
  const double whole = std::floor(weighed);
  carry_ = weighed - whole;
  return static_cast<uint64_t>(whole);
}

}  // namespace snaptun::io
