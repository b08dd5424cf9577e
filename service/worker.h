// A data-plane worker: one thread running one event loop, plus the scratch
// every tunnel on it shares (the batch receiver's GRO-sized buffers, the
// batch sender, a random source), and the residents it owns (residents.h):
// gateway shards and client tunnels' drivers. A tunnel belongs to exactly
// one worker for its life; the worker is its one owner, and other threads
// reach it only through the worker's mailbox, by resident id (RunOn). The
// pool starts N workers (default: one per core).
#ifndef SNAPTUN_SERVICE_WORKER_H_
#define SNAPTUN_SERVICE_WORKER_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "service/residents.h"
#include "tunnel/crypto/random.h"
#include "tunnel/io/batch_receiver.h"
#include "tunnel/io/batch_sender.h"
#include "tunnel/io/clock.h"
#include "tunnel/io/event_loop.h"

namespace snaptun::service {

class Worker {
 public:
  Worker(io::Clock& clock, size_t index);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void Start();
  // Stops the loop after the work already posted, and joins the thread.
  void Stop();

  size_t index() const { return index_; }
  io::EventLoop& loop() { return loop_; }
  // Runs `task` on the worker and waits for it. Must not be called from the
  // worker itself, nor from a gRPC callback (use Run).
  void RunAndWait(std::function<void()> task);
  // Runs `task` on the worker without waiting (on the caller's thread if
  // the worker has stopped).
  void Run(std::function<void()> task);

  // Runs `fn(resident)` on the worker if resident `id`, a T, is still
  // there when the task runs; nothing once the worker has stopped. Any
  // thread.
  template <typename T, typename Fn>
  void RunOn(ResidentId id, Fn fn) {
    loop_.Post([this, id, fn = std::move(fn)] {
      if (T* resident = residents_.Find<T>(id)) fn(*resident);
    });
  }
  // A callback for the worker's own loop (a timer, a readiness handler)
  // that calls `method` on resident `id` if it is still there.
  template <typename T, typename... Args>
  auto Calls(ResidentId id, void (T::*method)(Args...)) {
    return [this, id, method](Args... args) {
      if (T* resident = residents_.Find<T>(id)) (resident->*method)(args...);
    };
  }

  // Loop-thread only.
  Residents& residents() { return residents_; }
  io::BatchReceiver& receiver() { return receiver_; }
  io::BatchSender& sender() { return sender_; }
  crypto::RandomSource& rng() { return rng_; }

 private:
  // The loop has finished: runs `task` on the calling thread.
  void RunAfterLoop(const std::function<void()>& task);

  const size_t index_;
  io::EventLoop loop_;
  io::BatchReceiver receiver_;
  io::BatchSender sender_;
  crypto::SystemRandom rng_;
  // Destroyed before the loop and the scratch their residents use.
  Residents residents_{loop_};
  std::thread thread_;
};

class WorkerPool {
 public:
  // `workers` 0 means one per core.
  WorkerPool(io::Clock& clock, size_t workers);
  ~WorkerPool();

  size_t size() const { return workers_.size(); }
  Worker& at(size_t i) { return *workers_[i]; }
  // Spreads keys (tunnel ids) over the workers.
  Worker& ForKey(uint64_t key) { return *workers_[key % workers_.size()]; }
  io::Clock& clock() { return clock_; }
  void Stop();

 private:
  io::Clock& clock_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_WORKER_H_
