// One transport session: the two keys a handshake produced, the indices that
// name it on the wire, the send counter and the replay window. Encryption
// writes a complete type-4 message; decryption authenticates before it marks
// the counter. A keypair never outlives REJECT_AFTER_TIME or
// REJECT_AFTER_MESSAGES; the peer discards it then.
#ifndef SNAPTUN_TUNNEL_CORE_KEYPAIR_H_
#define SNAPTUN_TUNNEL_CORE_KEYPAIR_H_

#include <cstdint>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "tunnel/core/compact_time.h"
#include "tunnel/core/noise.h"
#include "tunnel/core/replay_window.h"
#include "tunnel/core/verdict.h"
#include "tunnel/crypto/aead.h"

namespace snaptun::core {

class Keypair {
 public:
  Keypair(const TransportKeys& keys, uint32_t local_index,
          uint32_t remote_index, bool initiator, absl::Time created);

  uint32_t local_index() const { return local_index_; }
  uint32_t remote_index() const { return remote_index_; }
  bool initiator() const { return initiator_; }
  absl::Time created() const { return created_; }
  uint64_t send_counter() const { return send_counter_; }

  // Usable for sending and receiving at `now`.
  bool Valid(absl::Time now) const;

  // Writes header + sealed `payload` into `out` (payload.size() + 32 bytes)
  // and returns the message size, or 0 when the counter is exhausted.
  size_t Seal(absl::Span<const uint8_t> payload, uint8_t* out);

  // Opens a classified transport message whose receiver index is ours.
  // On success `payload` points at the plaintext inside `message`.
  DropReason Open(absl::Span<uint8_t> message, absl::Span<uint8_t>& payload);

 private:
  crypto::AeadKey send_key_;
  crypto::AeadKey receive_key_;
  ReplayWindow replay_;
  uint64_t send_counter_ = 0;
  const uint32_t local_index_;
  const uint32_t remote_index_;
  const bool initiator_;
  const CompactTime created_;
};

}  // namespace snaptun::core

#endif  // SNAPTUN_TUNNEL_CORE_KEYPAIR_H_
