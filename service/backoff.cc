// Exponential backoff with cap and jitter.
#include "service/backoff.h"

#include <algorithm>
#include <cmath>

namespace snaptun::service {

absl::Duration Backoff::Next(crypto::RandomSource& rng) {
  const double base = absl::ToDoubleSeconds(policy_.initial) *
                      std::pow(policy_.multiplier, attempts_);
  const double capped = std::min(base, absl::ToDoubleSeconds(policy_.max));
  ++attempts_;
  const double unit = rng.NextU32() / 4294967295.0;  // [0, 1]
  const double factor = 1.0 + policy_.jitter * (2.0 * unit - 1.0);
  return absl::Seconds(std::max(0.0, capped * factor));
}

}  // namespace snaptun::service
