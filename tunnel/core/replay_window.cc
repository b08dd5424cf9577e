// Sliding-window replay checks.
#include "tunnel/core/replay_window.h"

namespace snaptun::core {

bool ReplayWindow::Check(uint64_t counter) const {
  if (counter >= kRejectAfterMessages) return false;
  if (!any_ || counter > last_) return true;
  if (last_ - counter > kWindowSize) return false;
  const uint64_t block = (counter / kBlockBits) % kBlocks;
  const uint64_t bit = uint64_t{1} << (counter % kBlockBits);
  return (blocks_[block] & bit) == 0;
}

bool ReplayWindow::Mark(uint64_t counter) {
  if (!Check(counter)) return false;
  const uint64_t index = counter / kBlockBits;
  if (!any_ || counter > last_) {
    // Clear the blocks the window slides over (all of them, at most).
    const uint64_t current = any_ ? last_ / kBlockBits : index;
    uint64_t diff = any_ ? index - current : kBlocks;
    if (diff > kBlocks) diff = kBlocks;
    for (uint64_t i = 1; i <= diff; ++i) {
      blocks_[(current + i) % kBlocks] = 0;
    }
    last_ = counter;
    any_ = true;
  }
  blocks_[index % kBlocks] |= uint64_t{1} << (counter % kBlockBits);
  return true;
}

}  // namespace snaptun::core
