// A round's losses.
#include "tunnel/io/receive_round.h"

namespace snaptun::io {

RoundLosses AccountRound(const ReceiveStats& received,
                         const DatagramChannel& channel,
                         KernelDropCounter& kernel_drops) {
  RoundLosses losses;
  losses.socket_overflow = kernel_drops.Update(
      received.kernel_drops, received.reads, received.datagrams);
  losses.oversize = received.truncated;
  losses.drained =
      received.datagrams + received.truncated + received.empty == 0;
  if (losses.drained) {
    losses.socket_overflow += kernel_drops.Update(channel.KernelDrops(), 0, 0);
  }
  return losses;
}

}  // namespace snaptun::io
