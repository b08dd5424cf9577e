// Forgets expired identity grants on a timer. An expired grant already
// authorizes nothing; without the reaper it would still hold memory until
// someone listed the identities, so a gateway whose orchestrator grants
// short-lived identities and never lists them would grow without bound
// (the reference's W22). Runs on one worker's loop, so its clock (fake in
// tests) decides when.
#ifndef SNAPTUN_SERVICE_GRANT_REAPER_H_
#define SNAPTUN_SERVICE_GRANT_REAPER_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/time/time.h"
#include "service/identity_store.h"
#include "tunnel/io/event_loop.h"

namespace snaptun::service {

class GrantReaper {
 public:
  static constexpr absl::Duration kDefaultInterval = absl::Seconds(30);

  // Starts reaping `store` every `interval` on `loop`; both outlive the
  // reaper.
  GrantReaper(io::EventLoop& loop, IdentityStore& store,
              absl::Duration interval = kDefaultInterval);
  // Stops: a reap already posted finds the reaper gone and does nothing.
  ~GrantReaper();
  GrantReaper(const GrantReaper&) = delete;
  GrantReaper& operator=(const GrantReaper&) = delete;

  uint64_t reaped() const { return state_->reaped.load(); }

 private:
  struct State {
    io::EventLoop* loop;
    IdentityStore* store;
    absl::Duration interval;
    std::atomic<bool> stopped{false};
    std::atomic<uint64_t> reaped{0};
  };
  static void Schedule(const std::shared_ptr<State>& state);

  std::shared_ptr<State> state_;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_GRANT_REAPER_H_
