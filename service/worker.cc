// Worker threads and the pool.
#include "service/worker.h"

#include <pthread.h>

#include <string>

#include "absl/synchronization/notification.h"

namespace snaptun::service {

Worker::Worker(io::Clock& clock, size_t index) : index_(index), loop_(clock) {}

Worker::~Worker() { Stop(); }

void Worker::Start() {
  thread_ = std::thread([this] {
    const std::string name = "snaptun-w" + std::to_string(index_);
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    loop_.Run();
  });
}

void Worker::Stop() {
  if (!thread_.joinable()) return;
  loop_.Stop();
  thread_.join();
}

void Worker::RunAndWait(std::function<void()> task) {
  absl::Notification done;
  if (!loop_.Post([&] {
        task();
        done.Notify();
      })) {
    RunAfterLoop(task);
    return;
  }
  done.WaitForNotification();
}

void Worker::Run(std::function<void()> task) {
  // Post consumes the task only when it queues it.
  auto shared = std::make_shared<std::function<void()>>(std::move(task));
  if (!loop_.Post([shared] { (*shared)(); })) RunAfterLoop(*shared);
}

void Worker::RunAfterLoop(const std::function<void()>& task) {
  // Once the loop's last drain is done nothing else runs on it, and the
  // task may run here; from inside that drain it runs at once.
  if (!loop_.InLoopThread()) loop_.AwaitFinished();
  task();
}

WorkerPool::WorkerPool(io::Clock& clock, size_t workers) : clock_(clock) {
  if (workers == 0) workers = std::max(1u, std::thread::hardware_concurrency());
  for (size_t i = 0; i < workers; ++i) {
    workers_.push_back(std::make_unique<Worker>(clock, i));
    workers_.back()->Start();
  }
}

WorkerPool::~WorkerPool() { Stop(); }

void WorkerPool::Stop() {
  for (auto& worker : workers_) worker->Stop();
}

}  // namespace snaptun::service
