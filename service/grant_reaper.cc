// One timer at a time, re-armed after each reap.
#include "service/grant_reaper.h"

namespace snaptun::service {

GrantReaper::GrantReaper(io::EventLoop& loop, IdentityStore& store,
                         absl::Duration interval)
    : state_(std::make_shared<State>()) {
  state_->loop = &loop;
  state_->store = &store;
  state_->interval = interval;
  std::shared_ptr<State> state = state_;
  loop.Post([state] { Schedule(state); });
}

GrantReaper::~GrantReaper() { state_->stopped = true; }

void GrantReaper::Schedule(const std::shared_ptr<State>& state) {
  if (state->stopped) return;
  io::EventLoop& loop = *state->loop;
  loop.RunAt(loop.clock().Now() + state->interval, [state] {
    if (state->stopped) return;
    state->reaped += state->store->PurgeExpired(state->loop->clock().Now());
    Schedule(state);
  });
}

}  // namespace snaptun::service
