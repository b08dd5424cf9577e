// What one receive round lost before the data plane saw it, for either
// driver (client tunnel or gateway shard): the datagrams the kernel dropped
// on the full socket buffer, weighed as KernelDropCounter does, those too
// large for a slot, and whether the round found the socket drained (read
// nothing), in which case the drops after the last queued datagram are read
// from the channel and counted as well.
#ifndef SNAPTUN_TUNNEL_IO_RECEIVE_ROUND_H_
#define SNAPTUN_TUNNEL_IO_RECEIVE_ROUND_H_

#include <cstdint>

#include "tunnel/io/batch_receiver.h"
#include "tunnel/io/datagram_channel.h"
#include "tunnel/io/receive_control.h"

namespace snaptun::io {

struct RoundLosses {
  uint64_t socket_overflow = 0;
  uint64_t oversize = 0;
  bool drained = false;
};

RoundLosses AccountRound(const ReceiveStats& received,
                         const DatagramChannel& channel,
                         KernelDropCounter& kernel_drops);

}  // namespace snaptun::io

#endif  // SNAPTUN_TUNNEL_IO_RECEIVE_ROUND_H_
