// Sliding-window replay checks.
#include "tunnel/core/replay_window.h"

namespace snaptun::core {

bool ReplayWindow::Check(uint64_t counter) const {
  if (counter >= kRejectAfterMessages) return false;
  if (!any_ || counter > last_) return true;
  if (last_ - counter > kWindowSize) return false;
  const uint64_t bit = uint64_t{1} << (counter % kBlockBits);
  // Without a ring every marked counter, and so `counter`, is below 64.
  if (ring_ == nullptr) return (first_ & bit) == 0;
  const uint64_t block = (counter / kBlockBits) % kBlocks;
  return ((*ring_)[block] & bit) == 0;
}

bool ReplayWindow::Mark(uint64_t counter) {
  if (!Check(counter)) return false;
  const uint64_t index = counter / kBlockBits;
  if (ring_ == nullptr) {
    if (index == 0) {
      first_ |= uint64_t{1} << counter;
      if (!any_ || counter > last_) last_ = counter;
      any_ = true;
      return true;
    }
    // The first counter past the inline block: block 0 of the ring is
    // counters 0..63, so the inline bits move there unchanged.
    ring_ = std::make_unique<Ring>();
    (*ring_)[0] = first_;
    first_ = 0;
  }
  Ring& blocks = *ring_;
  if (!any_ || counter > last_) {
    // Clear the blocks the window slides over (all of them, at most).
    const uint64_t current = any_ ? last_ / kBlockBits : index;
    uint64_t diff = any_ ? index - current : kBlocks;
    if (diff > kBlocks) diff = kBlocks;
    for (uint64_t i = 1; i <= diff; ++i) {
      blocks[(current + i) % kBlocks] = 0;
    }
    last_ = counter;
    any_ = true;
  }
  blocks[index % kBlocks] |= uint64_t{1} << (counter % kBlockBits);
  return true;
}

}  // namespace snaptun::core
