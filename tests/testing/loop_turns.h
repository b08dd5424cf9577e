// For tests that drive an event loop on a fake clock from another thread:
// after moving the clock, the loop must wake and run the timers that fell
// due. Posting a marker wakes it (timers run at the start of each turn);
// the second marker waits out work the first turn posted.
#ifndef SNAPTUN_TESTS_TESTING_LOOP_TURNS_H_
#define SNAPTUN_TESTS_TESTING_LOOP_TURNS_H_

#include "absl/synchronization/notification.h"
#include "tunnel/io/event_loop.h"

namespace snaptun::testing {

// Returns once `loop` has finished `turns` turns from now.
inline void FinishLoopTurns(io::EventLoop& loop, int turns = 2) {
  for (int turn = 0; turn < turns; ++turn) {
    absl::Notification done;
    loop.Post([&done] { done.Notify(); });
    done.WaitForNotification();
  }
}

}  // namespace snaptun::testing

#endif  // SNAPTUN_TESTS_TESTING_LOOP_TURNS_H_
