// Transport encryption and decryption for one session.
#include "tunnel/core/keypair.h"

#include "tunnel/core/messages.h"
#include "tunnel/core/timers.h"
#include "tunnel/crypto/endian.h"

namespace snaptun::core {

Keypair::Keypair(const TransportKeys& keys, uint32_t local_index,
                 uint32_t remote_index, bool initiator, absl::Time created)
    : send_key_(keys.send, crypto::AeadKey::Direction::kSeal),
      receive_key_(keys.receive, crypto::AeadKey::Direction::kOpen),
      local_index_(local_index),
      remote_index_(remote_index),
      initiator_(initiator),
      created_(created) {}

bool Keypair::Valid(absl::Time now) const {
  return now - created_ < kRejectAfterTime &&
         send_counter_ < ReplayWindow::kRejectAfterMessages;
}

size_t Keypair::Seal(absl::Span<const uint8_t> payload, uint8_t* out) {
  if (send_counter_ >= ReplayWindow::kRejectAfterMessages) return 0;
  const uint64_t counter = send_counter_++;
  WriteHeader(out, MessageType::kTransport);
  WriteIndex(out + transport::kReceiverIndex, remote_index_);
  crypto::StoreLittleEndian<uint64_t>(out + transport::kCounter, counter);
  if (!send_key_.Seal(counter, payload, {}, out + transport::kHeaderSize)) {
    return 0;
  }
  return payload.size() + transport::kOverhead;
}

DropReason Keypair::Open(absl::Span<uint8_t> message,
                         absl::Span<uint8_t>& payload) {
  const uint64_t counter =
      crypto::LoadLittleEndian<uint64_t>(message.data() + transport::kCounter);
  if (!replay_.Check(counter)) return DropReason::kReplay;
  uint8_t* body = message.data() + transport::kHeaderSize;
  const size_t sealed_size = message.size() - transport::kHeaderSize;
  if (!receive_key_.Open(counter, absl::MakeConstSpan(body, sealed_size), {},
                         body)) {
    return DropReason::kDecryptFailed;
  }
  if (!replay_.Mark(counter)) return DropReason::kReplay;
  payload = absl::MakeSpan(body, sealed_size - crypto::kAeadTagSize);
  return DropReason::kNone;
}

}  // namespace snaptun::core
