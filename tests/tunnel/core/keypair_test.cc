// Transport sessions against the known-answer packets (a keepalive from the
// initiator, 20 padded bytes from the responder), and the replay window at
// its edges and against a model.
#include "tunnel/core/keypair.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

#include "tests/testing/hex.h"
#include "tests/tunnel/core/vectors.h"
#include "tunnel/core/messages.h"
#include "tunnel/core/replay_window.h"

namespace snaptun::core {
namespace {

using ::snaptun::testing::ArrayFromHex;
using ::snaptun::testing::FromHex;
using ::snaptun::testing::Sequence;
using ::snaptun::testing::ToHex;

const absl::Time kNow = absl::FromUnixSeconds(1735689600);

TransportKeys Keys(bool initiator) {
  const crypto::SymmetricKey i_send(ArrayFromHex<32>(vectors::kTInitiatorSend));
  const crypto::SymmetricKey i_recv(
      ArrayFromHex<32>(vectors::kTInitiatorReceive));
  TransportKeys keys;
  keys.send = initiator ? i_send : i_recv;
  keys.receive = initiator ? i_recv : i_send;
  return keys;
}

TEST(KeypairTest, KnownAnswerTransportPackets) {
  Keypair initiator(Keys(true), vectors::kIndexI, vectors::kIndexR, true, kNow);
  Keypair responder(Keys(false), vectors::kIndexR, vectors::kIndexI, false,
                    kNow);
  std::vector<uint8_t> keepalive(transport::kMinSize);
  ASSERT_EQ(initiator.Seal({}, keepalive.data()), 32u);
  EXPECT_EQ(ToHex(keepalive), vectors::kKeepaliveIToR);

  auto plain = Sequence(0, 20);
  plain.resize(32, 0);  // WireGuard-mode padding to 16.
  std::vector<uint8_t> data(plain.size() + transport::kOverhead);
  ASSERT_EQ(responder.Seal(plain, data.data()), 64u);
  EXPECT_EQ(ToHex(data), vectors::kDataRToI);

  auto wire = FromHex(vectors::kDataRToI);
  absl::Span<uint8_t> payload;
  ASSERT_EQ(initiator.Open(absl::MakeSpan(wire), payload), DropReason::kNone);
  EXPECT_EQ(std::vector<uint8_t>(payload.begin(), payload.end()), plain);
  auto ka = FromHex(vectors::kKeepaliveIToR);
  ASSERT_EQ(responder.Open(absl::MakeSpan(ka), payload), DropReason::kNone);
  EXPECT_TRUE(payload.empty());
}

TEST(KeypairTest, ExpiresAfterRejectAfterTime) {
  Keypair k(Keys(true), 1, 2, true, kNow);
  EXPECT_TRUE(k.Valid(kNow + absl::Seconds(179)));
  EXPECT_FALSE(k.Valid(kNow + absl::Seconds(180)));
}

TEST(ReplayWindowTest, AcceptsNewRejectsDuplicatesInAnyOrder) {
  ReplayWindow w;
  EXPECT_TRUE(w.Mark(0));
  EXPECT_FALSE(w.Mark(0));
  EXPECT_TRUE(w.Mark(5));
  EXPECT_TRUE(w.Mark(3));  // Out of order, inside the window.
  EXPECT_FALSE(w.Check(3));
  EXPECT_TRUE(w.Check(4));
  EXPECT_TRUE(w.Mark(4));
  EXPECT_FALSE(w.Mark(5));
}

TEST(ReplayWindowTest, WindowEdges) {
  ReplayWindow w;
  const uint64_t top = 20000;
  ASSERT_TRUE(w.Mark(top));
  EXPECT_TRUE(w.Check(top - ReplayWindow::kWindowSize));  // Oldest allowed.
  EXPECT_FALSE(w.Check(top - ReplayWindow::kWindowSize - 1));
  EXPECT_TRUE(w.Mark(top - ReplayWindow::kWindowSize));
  EXPECT_FALSE(w.Mark(top - ReplayWindow::kWindowSize));
  // A jump far ahead clears everything behind it.
  ASSERT_TRUE(w.Mark(top + 100000));
  EXPECT_FALSE(w.Check(top));
  EXPECT_TRUE(w.Check(top + 100000 - 1));
}

TEST(ReplayWindowTest, SlidingClearsRecycledBlocks) {
  ReplayWindow w;
  for (uint64_t c = 0; c < 3 * ReplayWindow::kWindowSize; c += 7) {
    ASSERT_TRUE(w.Mark(c)) << c;
  }
  // Every counter in the window that was not marked is still acceptable.
  const uint64_t last = (3 * ReplayWindow::kWindowSize - 1) / 7 * 7;
  for (uint64_t c = last - ReplayWindow::kWindowSize + 1; c < last; ++c) {
    EXPECT_EQ(w.Check(c), c % 7 != 0) << c;
  }
}

// The window against a model that remembers every counter it accepted: the
// two agree on every Check and Mark, from the first counter (the inline
// block) through the ring's allocation to a long slide.
TEST(ReplayWindowTest, AgreesWithAModelThroughTheInlineBlockAndTheRing) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 random(seed);
    ReplayWindow w;
    std::set<uint64_t> marked;
    uint64_t last = 0;
    for (int step = 0; step < 5000; ++step) {
      // Mostly near the top, sometimes behind the window, sometimes ahead.
      const uint64_t spread = step < 200 ? 80 : ReplayWindow::kWindowSize + 64;
      const uint64_t behind = random() % spread;
      uint64_t counter = last > behind ? last - behind : random() % 80;
      if (random() % 4 == 0) counter = last + random() % 70;
      const bool fresh = marked.empty() || counter > last ||
                         (last - counter <= ReplayWindow::kWindowSize &&
                          marked.count(counter) == 0);
      ASSERT_EQ(w.Check(counter), fresh)
          << "seed " << seed << " step " << step << " counter " << counter;
      ASSERT_EQ(w.Mark(counter), fresh);
      if (fresh) {
        marked.insert(counter);
        last = std::max(last, counter);
      }
    }
  }
}

TEST(ReplayWindowTest, RejectsCountersAtTheMessageLimit) {
  ReplayWindow w;
  EXPECT_FALSE(w.Check(ReplayWindow::kRejectAfterMessages));
  EXPECT_FALSE(w.Mark(~uint64_t{0}));
  EXPECT_TRUE(w.Mark(ReplayWindow::kRejectAfterMessages - 1));
}

}  // namespace
}  // namespace snaptun::core
