// epoll_wait with a timeout from the deadline heap; eventfd mailbox.
#include "tunnel/io/event_loop.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace snaptun::io {
namespace {

constexpr int kMaxEvents = 64;

}  // namespace

EventLoop::EventLoop(Clock& clock) : clock_(clock) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = wake_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &event);
}

EventLoop::~EventLoop() {
  close(wake_fd_);
  close(epoll_fd_);
}

absl::Status EventLoop::Watch(int fd, uint32_t events, FdHandler handler) {
  epoll_event event{};
  event.events = events;
  event.data.fd = fd;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    return absl::ErrnoToStatus(errno, "epoll_ctl add");
  }
  handlers_[fd] = std::make_shared<FdHandler>(std::move(handler));
  return absl::OkStatus();
}

void EventLoop::Unwatch(int fd) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  handlers_.erase(fd);
}

EventLoop::TimerId EventLoop::RunAt(absl::Time at, Task task) {
  const TimerId id = next_timer_++;
  timer_tasks_.emplace(id, std::move(task));
  deadlines_.push({at, id});
  return id;
}

void EventLoop::Cancel(TimerId id) { timer_tasks_.erase(id); }

bool EventLoop::Post(Task task) {
  bool wake = false;
  {
    absl::MutexLock lock(&mailbox_mu_);
    if (finished_) return false;
    mailbox_.push_back(std::move(task));
    wake = !wake_pending_;
    wake_pending_ = true;
  }
  if (wake) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
  }
  return true;
}

void EventLoop::Stop() {
  stopping_.store(true);
  Post([] {});
}

bool EventLoop::InLoopThread() const {
  return thread_.load() == std::this_thread::get_id();
}

void EventLoop::DrainMailbox() {
  uint64_t value;
  [[maybe_unused]] ssize_t n = read(wake_fd_, &value, sizeof(value));
  std::vector<Task> tasks;
  {
    absl::MutexLock lock(&mailbox_mu_);
    tasks.swap(mailbox_);
    wake_pending_ = false;
  }
  for (Task& task : tasks) task();
}

void EventLoop::RunDueTimers() {
  const absl::Time now = clock_.Now();
  while (!deadlines_.empty() && deadlines_.top().at <= now) {
    const TimerId id = deadlines_.top().id;
    deadlines_.pop();
    auto it = timer_tasks_.find(id);
    if (it == timer_tasks_.end()) continue;  // Cancelled.
    Task task = std::move(it->second);
    timer_tasks_.erase(it);
    task();
  }
  // Cancelled entries at the top would only shorten the sleep; drop them.
  while (!deadlines_.empty() && !timer_tasks_.contains(deadlines_.top().id)) {
    deadlines_.pop();
  }
}

int EventLoop::TimeoutMs() {
  if (deadlines_.empty()) return -1;
  const absl::Duration wait = deadlines_.top().at - clock_.Now();
  if (wait <= absl::ZeroDuration()) return 0;
  // Round up so a timer never fires early and spins.
  return static_cast<int>(
      std::min<int64_t>(absl::ToInt64Milliseconds(wait) + 1, 60000));
}

void EventLoop::Run() {
  thread_.store(std::this_thread::get_id());
  epoll_event events[kMaxEvents];
  while (!stopping_.load()) {
    const int n = epoll_wait(epoll_fd_, events, kMaxEvents, TimeoutMs());
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        DrainMailbox();
        continue;
      }
      auto it = handlers_.find(fd);
      if (it == handlers_.end()) continue;
      // Keep the handler alive even if it unwatches its own fd.
      std::shared_ptr<FdHandler> handler = it->second;
      (*handler)(events[i].events);
    }
    RunDueTimers();
  }
  // Work posted before Stop still runs, so nothing waiting on it hangs.
  {
    absl::MutexLock lock(&mailbox_mu_);
    finished_ = true;
  }
  DrainMailbox();
  drained_.Notify();
}

void EventLoop::AwaitFinished() { drained_.WaitForNotification(); }

}  // namespace snaptun::io
