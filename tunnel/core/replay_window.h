// Replay protection for received transport counters (RFC 6479 style): a ring
// of 64-bit blocks that slides with the highest counter seen. `Check` is the
// cheap read-only test before decryption; `Mark` commits a counter after its
// packet authenticated, so forged packets never move the window. The window
// accepts counters up to kWindowSize behind the highest one: 1984, smaller
// than wireguard-go's 8128. The size is a local choice that peers cannot
// observe, and 1984 packets of reordering is still far beyond what a path
// produces. The ring (256 bytes) is allocated only once a counter reaches
// 64: until then the first block lives inline, so a session that carried
// only its handshake's confirmation and a few keepalives, an idle tunnel,
// costs 16 bytes here.
#ifndef SNAPTUN_TUNNEL_CORE_REPLAY_WINDOW_H_
#define SNAPTUN_TUNNEL_CORE_REPLAY_WINDOW_H_

#include <array>
#include <cstdint>
#include <memory>

namespace snaptun::core {

class ReplayWindow {
 public:
  static constexpr int kBlocks = 32;
  static constexpr uint64_t kBlockBits = 64;
  // One block is always being recycled, as in the kernel and wireguard-go.
  static constexpr uint64_t kWindowSize = (kBlocks - 1) * kBlockBits;  // 1984
  // Counters at or above this are never accepted (REJECT_AFTER_MESSAGES).
  static constexpr uint64_t kRejectAfterMessages =
      ~uint64_t{0} - (uint64_t{1} << 13);

  // True when `counter` is new and inside the window.
  bool Check(uint64_t counter) const;
  // Records `counter`; false (and no change) when Check would fail.
  bool Mark(uint64_t counter);

 private:
  using Ring = std::array<uint64_t, kBlocks>;
  uint64_t first_ = 0;          // Counters 0..63 while there is no ring.
  std::unique_ptr<Ring> ring_;  // Block i holds counters 64i..64i+63 mod.
  uint64_t last_ = 0;           // Highest counter marked.
  bool any_ = false;
};

}  // namespace snaptun::core

#endif  // SNAPTUN_TUNNEL_CORE_REPLAY_WINDOW_H_
