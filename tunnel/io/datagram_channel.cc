// The one helper every channel user shares.
#include "tunnel/io/datagram_channel.h"

#include <errno.h>

namespace snaptun::io {

FlushStats FlushOrDrop(DatagramChannel* channel, BatchSender& sender) {
  if (channel != nullptr) return channel->Flush(sender);
  return sender.FlushEach(
      [](const core::Endpoint&, absl::Span<const uint8_t>) { return EBADF; });
}

}  // namespace snaptun::io
