// The event loop: deadline timers in order, cancellation, the cross-thread
// mailbox, and readiness handlers that remove themselves.
#include "tunnel/io/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace snaptun::io {
namespace {

TEST(EventLoopTest, TimersFireInDeadlineOrderAndCancelledOnesDoNot) {
  SystemClock clock;
  EventLoop loop(clock);
  std::vector<int> fired;
  const absl::Time now = clock.Now();
  loop.RunAt(now + absl::Milliseconds(30), [&] { fired.push_back(3); });
  loop.RunAt(now + absl::Milliseconds(10), [&] { fired.push_back(1); });
  const EventLoop::TimerId cancelled =
      loop.RunAt(now + absl::Milliseconds(20), [&] { fired.push_back(2); });
  loop.RunAt(now + absl::Milliseconds(40), [&] { loop.Stop(); });
  loop.Cancel(cancelled);
  loop.Run();
  EXPECT_EQ(fired, (std::vector<int>{1, 3}));
  EXPECT_GE(clock.Now() - now, absl::Milliseconds(40));
}

TEST(EventLoopTest, PostFromAnotherThreadRunsOnTheLoop) {
  SystemClock clock;
  EventLoop loop(clock);
  std::thread runner([&] { loop.Run(); });
  absl::Notification ran;
  bool on_loop = false;
  EXPECT_TRUE(loop.Post([&] {
    on_loop = loop.InLoopThread();
    ran.Notify();
  }));
  ASSERT_TRUE(ran.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_TRUE(on_loop);
  EXPECT_FALSE(loop.InLoopThread());
  loop.Stop();
  runner.join();
  EXPECT_FALSE(loop.Post([] {}));
}

TEST(EventLoopTest, HandlerMayUnwatchItself) {
  SystemClock clock;
  EventLoop loop(clock);
  const int fd = eventfd(1, EFD_NONBLOCK);
  int calls = 0;
  ASSERT_TRUE(loop.Watch(fd, EPOLLIN,
                         [&](uint32_t) {
                           ++calls;
                           loop.Unwatch(fd);
                         })
                  .ok());
  loop.RunAt(clock.Now() + absl::Milliseconds(50), [&] { loop.Stop(); });
  loop.Run();
  EXPECT_EQ(calls, 1);
  close(fd);
}

}  // namespace
}  // namespace snaptun::io
