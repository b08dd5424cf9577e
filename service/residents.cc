// Adding, finding and retiring a worker's residents.
#include "service/residents.h"

#include <utility>

namespace snaptun::service {

Residents::~Residents() {
  while (!live_.empty() || !retired_.empty()) {
    auto live = std::move(live_);
    live_.clear();
    auto retired = std::move(retired_);
    retired_.clear();
  }
}

void Residents::Add(ResidentId id, std::unique_ptr<Resident> resident) {
  live_[id] = std::move(resident);
}

void Residents::Retire(ResidentId id) {
  auto it = live_.find(id);
  if (it == live_.end()) return;
  retired_.push_back(std::move(it->second));
  live_.erase(it);
  if (sweep_posted_) return;
  // A stopped loop runs nothing more: the retired go with the registry.
  sweep_posted_ = loop_.Post([this] { Sweep(); });
}

void Residents::Sweep() {
  sweep_posted_ = false;
  // A destructor may retire another resident: that one waits for the next
  // sweep.
  std::vector<std::unique_ptr<Resident>> dead = std::move(retired_);
  retired_.clear();
}

}  // namespace snaptun::service
