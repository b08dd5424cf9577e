// What a worker owns: the objects that live on it for their whole life (a
// gateway shard, a client tunnel's driver). A resident is found by an id
// that is never reused, so every callback (a timer, a readiness handler, a
// port's wake posted from a gRPC thread) holds the id instead of a pointer
// and finds the resident on the worker: one that has retired is not found,
// and the callback does nothing. Retiring removes the id at once and
// destroys the object after the loop's current task (deferred deletion), so
// a resident may retire itself from inside its own handler.
//
// Threads: NextId is thread-safe; everything else is the worker's loop
// thread's.
#ifndef SNAPTUN_SERVICE_RESIDENTS_H_
#define SNAPTUN_SERVICE_RESIDENTS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "tunnel/io/event_loop.h"

namespace snaptun::service {

using ResidentId = uint64_t;

class Resident {
 public:
  virtual ~Resident() = default;
};

class Residents {
 public:
  explicit Residents(io::EventLoop& loop) : loop_(loop) {}
  // Destroys what is left, live or retired, until nothing is (a destructor
  // may retire another resident).
  ~Residents();
  Residents(const Residents&) = delete;
  Residents& operator=(const Residents&) = delete;

  // An id for a resident to come; any thread.
  ResidentId NextId() { return next_id_.fetch_add(1); }
  void Add(ResidentId id, std::unique_ptr<Resident> resident);
  // The live resident `id` if it is a T; null otherwise.
  template <typename T>
  T* Find(ResidentId id) const {
    auto it = live_.find(id);
    return it == live_.end() ? nullptr : dynamic_cast<T*>(it->second.get());
  }
  // Not found from now on; destroyed after the loop's current task.
  void Retire(ResidentId id);
  size_t size() const { return live_.size(); }

 private:
  // Destroys what retired before it was posted.
  void Sweep();

  io::EventLoop& loop_;
  std::atomic<ResidentId> next_id_{1};
  absl::flat_hash_map<ResidentId, std::unique_ptr<Resident>> live_;
  std::vector<std::unique_ptr<Resident>> retired_;
  bool sweep_posted_ = false;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_RESIDENTS_H_
