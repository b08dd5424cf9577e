// Fuzz target: the control messages beside a received datagram (GRO segment
// size, the kernel's drop counter) and the splitting of a coalesced read.
// Input: [segment:2 LE][control length:1][control bytes][read bytes]. Every
// datagram must lie inside the read, in order, covering it exactly.
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "tunnel/io/receive_control.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  size_t segment = data[0] | (data[1] << 8);
  const size_t control_size = std::min<size_t>(data[2], size - 3);
  // Aligned as the kernel aligns msg_control.
  std::vector<uint64_t> control((control_size + 7) / 8 + 1, 0);
  std::memcpy(control.data(), data + 3, control_size);
  msghdr header{};
  header.msg_control = control.data();
  header.msg_controllen = control_size;
  const snaptun::io::ReceiveControl parsed =
      snaptun::io::ParseReceiveControl(header);
  if (parsed.gro_segment != 0) segment = parsed.gro_segment;
  std::vector<uint8_t> read(data + 3 + control_size, data + size);
  size_t covered = 0;
  const size_t count = snaptun::io::ForEachSegment(
      absl::MakeSpan(read), segment, [&](absl::Span<uint8_t> datagram) {
        if (datagram.empty() || datagram.data() != read.data() + covered) {
          std::abort();
        }
        covered += datagram.size();
      });
  if (covered != read.size() || (count == 0) != read.empty()) std::abort();
  return 0;
}
