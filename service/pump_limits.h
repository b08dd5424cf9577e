// How much a driver (client tunnel or gateway shard) does in one turn of its
// worker's loop before other sockets, timers and the mailbox get theirs. One
// definition for both drivers, so they share the loop's fairness.
#ifndef SNAPTUN_SERVICE_PUMP_LIMITS_H_
#define SNAPTUN_SERVICE_PUMP_LIMITS_H_

#include <cstddef>

namespace snaptun::service {

// Receive batches handled per readiness event.
inline constexpr int kReceiveRoundsPerWake = 8;
// Payloads taken from a port and sealed per drain; a full drain posts the
// next one instead of looping.
inline constexpr size_t kDrainBatch = 256;

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_PUMP_LIMITS_H_
