// The queue tunnels keep for payloads: first in, first out through growth,
// compaction and clearing, and a never-used queue costs one pointer.
#include "tunnel/core/fifo.h"

#include <gtest/gtest.h>

#include <string>

namespace snaptun::core {
namespace {

TEST(FifoTest, AnUnusedQueueIsOnePointer) {
  static_assert(sizeof(Fifo<std::string>) == sizeof(void*));
  Fifo<std::string> fifo;
  EXPECT_TRUE(fifo.empty());
  EXPECT_EQ(fifo.size(), 0u);
  fifo.clear();
  EXPECT_TRUE(fifo.empty());
}

TEST(FifoTest, KeepsOrderThroughCompactionAndRefills) {
  Fifo<int> fifo;
  int next_in = 0;
  int next_out = 0;
  // Uneven pushes and pops cross the compaction threshold many times.
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 97; ++i) fifo.push_back(next_in++);
    for (int i = 0; i < 60 && !fifo.empty(); ++i) {
      ASSERT_EQ(fifo.front(), next_out++);
      fifo.pop_front();
    }
    ASSERT_EQ(fifo.size(), static_cast<size_t>(next_in - next_out));
  }
  while (!fifo.empty()) {
    ASSERT_EQ(fifo.front(), next_out++);
    fifo.pop_front();
  }
  EXPECT_EQ(next_out, next_in);
  fifo.emplace_back(7);
  EXPECT_EQ(fifo.front(), 7);
  fifo.clear();
  EXPECT_TRUE(fifo.empty());
  fifo.push_back(8);
  EXPECT_EQ(fifo.size(), 1u);
  EXPECT_EQ(fifo.front(), 8);
}

}  // namespace
}  // namespace snaptun::core
