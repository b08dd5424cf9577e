// One thread's epoll loop: file-descriptor readiness handlers, one-shot
// timers kept in a deadline heap (nothing scans every tunnel on a tick), and
// a mailbox through which other threads hand it work, woken by an eventfd.
// Everything except Post, Stop and InLoopThread must be called on the loop's
// own thread.
#ifndef SNAPTUN_TUNNEL_IO_EVENT_LOOP_H_
#define SNAPTUN_TUNNEL_IO_EVENT_LOOP_H_

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "tunnel/io/clock.h"

namespace snaptun::io {

class EventLoop {
 public:
  using FdHandler = std::function<void(uint32_t events)>;
  using Task = std::function<void()>;
  using TimerId = uint64_t;

  explicit EventLoop(Clock& clock);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  absl::Status Watch(int fd, uint32_t events, FdHandler handler);
  void Unwatch(int fd);

  // Runs `task` at `at` (or at the next turn when `at` has passed).
  TimerId RunAt(absl::Time at, Task task);
  void Cancel(TimerId id);

  // Thread-safe: runs `task` on the loop thread soon. False (and `task`
  // dropped) once the loop has finished running.
  bool Post(Task task);
  // Runs until Stop. Binds the loop to the calling thread.
  void Run();
  // Thread-safe.
  void Stop();
  // Thread-safe: waits until the loop has run its last task, after Post
  // started returning false (the loop drains what was posted before).
  void AwaitFinished();
  bool InLoopThread() const;

  Clock& clock() { return clock_; }

 private:
  struct Deadline {
    absl::Time at;
    TimerId id;
    bool operator>(const Deadline& o) const { return at > o.at; }
  };

  void DrainMailbox();
  void RunDueTimers();
  int TimeoutMs();

  Clock& clock_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<std::thread::id> thread_{};
  absl::flat_hash_map<int, std::shared_ptr<FdHandler>> handlers_;
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>>
      deadlines_;
  absl::flat_hash_map<TimerId, Task> timer_tasks_;
  TimerId next_timer_ = 1;
  absl::Mutex mailbox_mu_;
  std::vector<Task> mailbox_ ABSL_GUARDED_BY(mailbox_mu_);
  bool wake_pending_ ABSL_GUARDED_BY(mailbox_mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mailbox_mu_) = false;
  // Notified once the final drain after finished_ is done.
  absl::Notification drained_;
};

}  // namespace snaptun::io

#endif  // SNAPTUN_TUNNEL_IO_EVENT_LOOP_H_
