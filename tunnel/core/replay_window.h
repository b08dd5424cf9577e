// Replay protection for received transport counters (RFC 6479 style): a ring
// of 64-bit blocks that slides with the highest counter seen. `Check` is the
// cheap read-only test before decryption; `Mark` commits a counter after its
// packet authenticated, so forged packets never move the window. The window
// accepts counters up to kWindowSize behind the highest one: 1984, smaller
// than wireguard-go's 8128. The size is a local choice that peers cannot
// observe; 256 bytes instead of 1 KiB per keypair is what keeps an idle
// gateway tunnel under 2 KiB, and 1984 packets of reordering is still far
// beyond what a path produces.
#ifndef SNAPTUN_TUNNEL_CORE_REPLAY_WINDOW_H_
#define SNAPTUN_TUNNEL_CORE_REPLAY_WINDOW_H_

#include <array>
#include <cstdint>

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
  std::array<uint64_t, kBlocks> blocks_{};
  uint64_t last_ = 0;  // Highest counter marked.
  bool any_ = false;
};

}  // namespace snaptun::core

#endif  // SNAPTUN_TUNNEL_CORE_REPLAY_WINDOW_H_
