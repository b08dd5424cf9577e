// The per-tunnel state machine. Timer rules follow the WireGuard paper §6 and
// wireguard-go; where this file differs from the reference, peer.h says so.
#include "tunnel/core/peer.h"

#include <algorithm>
#include <utility>

#include "tunnel/core/timers.h"
#include "tunnel/crypto/tai64n.h"

namespace snaptun::core {
namespace {

constexpr size_t kPaddingMultiple = 16;

size_t PaddedSize(size_t size, Mode mode) {
  if (mode != Mode::kWireGuard || size == 0) return size;
  return (size + kPaddingMultiple - 1) / kPaddingMultiple * kPaddingMultiple;
}

// WireGuard mode carries IP packets padded to 16 bytes; the inner header's
// length says where the packet ends. Anything that is not a well-formed IP
// header is delivered untouched.
size_t UnpaddedSize(absl::Span<const uint8_t> p) {
  if (p.empty()) return 0;
  const int version = p[0] >> 4;
  size_t length = p.size();
  if (version == 4 && p.size() >= 20) {
    length = static_cast<size_t>(p[2]) << 8 | p[3];
  } else if (version == 6 && p.size() >= 40) {
    length = 40 + (static_cast<size_t>(p[4]) << 8 | p[5]);
  }
  return length <= p.size() ? length : p.size();
}

absl::Duration Jitter(crypto::RandomSource& rng) {
  return absl::Milliseconds(
      rng.NextU32() % (absl::ToInt64Milliseconds(kRekeyTimeoutJitter) + 1));
}

}  // namespace

void PeerOutput::Clear() {
  to_network.clear();
  events.clear();
  std::fill(std::begin(drops), std::end(drops), 0);
  flushed_packets = 0;
  flushed_bytes = 0;
}

Peer::Peer(const LocalIdentity& local, const crypto::PublicKey& remote,
           std::shared_ptr<const PeerConfig> config, crypto::RandomSource& rng)
    : local_(local),
      remote_key_(remote),
      config_(std::move(config)),
      rng_(rng) {}

Peer::Peer(const LocalIdentity& local, const crypto::PublicKey& remote,
           const PeerConfig& config, crypto::RandomSource& rng)
    : Peer(local, remote, std::make_shared<const PeerConfig>(config), rng) {}

size_t Peer::SealedSize(size_t payload_size, Mode mode) {
  return PaddedSize(payload_size, mode) + transport::kOverhead;
}

ReceiveResult Peer::Dropped(DropReason drop, HandshakeFailure failure) {
  return ReceiveResult{ReceiveResult::Kind::kDropped, drop, failure, {}};
}

void Peer::Connect(absl::Time now, PeerOutput& out) {
  gave_up_ = false;
  StartHandshake(now, out);
}

void Peer::StartHandshake(absl::Time now, PeerOutput& out) {
  if (pending_ != nullptr) return;
  // Never more than one initiation per REKEY_TIMEOUT, whatever asks.
  if (now - last_initiation_sent_ < kRekeyTimeout) return;
  handshake_started_ = now;
  gave_up_ = false;
  SendInitiation(now, out);
}

void Peer::SendInitiation(absl::Time now, PeerOutput& out) {
  std::vector<uint8_t> msg(initiation::kSize);
  const uint32_t index = rng_.NextU32();
  if (static_secret_ == nullptr) {
    std::optional<crypto::SymmetricKey> ss = StaticSecret(local_, remote_key_);
    if (ss.has_value()) {
      static_secret_ = std::make_unique<crypto::SymmetricKey>(*ss);
    }
  }
  std::optional<InitiatorState> state = WriteInitiation(
      local_, remote_key_, crypto::X25519KeyPair::Generate(rng_), index,
      crypto::Tai64nFromTime(now), msg.data(), static_secret_.get());
  pending_ = state.has_value()
                 ? std::make_unique<InitiatorState>(std::move(*state))
                 : nullptr;
  if (pending_ == nullptr) {
    // The configured peer key is a low-order point: nothing can succeed.
    Fail(now, HandshakeFailure::kDecryptFailed, out);
    gave_up_ = true;
    return;
  }
  last_sent_mac1_ = WriteMacs(absl::MakeSpan(msg), Mac1KeyFor(remote_key_),
                              cookies_.Current(now));
  last_sent_index_ = index;
  last_initiation_sent_ = now;
  last_sent_ = now;
  retransmit_at_ = now + kRekeyTimeout + Jitter(rng_);
  out.to_network.push_back(std::move(msg));
  out.events.push_back({PeerEventType::kHandshakeInitiated});
}

void Peer::Fail(absl::Time now, HandshakeFailure failure, PeerOutput& out) {
  out.events.push_back({PeerEventType::kHandshakeFailed, failure});
}

size_t Peer::SealWithCurrent(absl::Time now, absl::Span<const uint8_t> payload,
                             uint8_t* out) {
  const size_t padded = PaddedSize(payload.size(), config_->mode);
  size_t written;
  if (padded != payload.size()) {
    // Pad in the output buffer, then seal in place.
    uint8_t* body = out + transport::kHeaderSize;
    std::copy(payload.begin(), payload.end(), body);
    std::fill(body + payload.size(), body + padded, 0);
    written = current_->Seal(absl::MakeConstSpan(body, padded), out);
  } else {
    written = current_->Seal(payload, out);
  }
  if (written == 0) return 0;
  last_sent_ = now;
  keepalive_at_ = absl::InfiniteFuture();
  const bool probe = payload.empty() && Probing() && current_->initiator();
  if ((!payload.empty() || probe) &&
      new_handshake_at_ == absl::InfiniteFuture()) {
    new_handshake_at_ = now + config_->no_reply_timeout + Jitter(rng_);
  }
  return written;
}

SendResult Peer::Send(absl::Time now, absl::Span<const uint8_t> payload,
                      absl::Span<uint8_t> datagram, PeerOutput& out) {
  const size_t sealed = SealedSize(payload.size(), config_->mode);
  if (sealed > kMaxDatagramSize) {
    return {SendOutcome::kDropped, DropReason::kOversize};
  }
  if (datagram.size() < sealed) {
    return {SendOutcome::kDropped, DropReason::kOversize};
  }
  if (current_ != nullptr && current_->Valid(now)) {
    const size_t n = SealWithCurrent(now, payload, datagram.data());
    if (n > 0) {
      if (RekeyDue(now)) StartHandshake(now, out);
      return {SendOutcome::kSent, DropReason::kNone, n};
    }
  }
  if (queue_.size() >= config_->queue_capacity) {
    if (config_->queue_capacity == 0) {
      return {SendOutcome::kDropped, DropReason::kHandshakeQueueFull};
    }
    queue_.pop_front();  // Fresher data is worth more than older data.
    ++out.drops[static_cast<size_t>(DropReason::kHandshakeQueueFull)];
  }
  queue_.emplace_back(payload.begin(), payload.end());
  // A responder awaiting confirmation waits for it instead of initiating.
  const bool awaiting_confirmation =
      next_ != nullptr && now - response_sent_at_ < kRekeyTimeout;
  if (!awaiting_confirmation) StartHandshake(now, out);
  return {SendOutcome::kQueued};
}

bool Peer::RekeyDue(absl::Time now) const {
  return current_ != nullptr && current_->initiator() &&
         (now - current_->created() >= kRekeyAfterTime ||
          current_->send_counter() >= kRekeyAfterMessages);
}

void Peer::FlushQueue(absl::Time now, PeerOutput& out) {
  while (!queue_.empty() && current_ != nullptr && current_->Valid(now)) {
    const std::vector<uint8_t>& payload = queue_.front();
    std::vector<uint8_t> datagram(SealedSize(payload.size(), config_->mode));
    const size_t n = SealWithCurrent(now, payload, datagram.data());
    if (n == 0) break;
    datagram.resize(n);
    out.to_network.push_back(std::move(datagram));
    ++out.flushed_packets;
    out.flushed_bytes += payload.size();
    queue_.pop_front();
  }
}

void Peer::SendKeepalive(absl::Time now, PeerOutput& out) {
  if (current_ == nullptr || !current_->Valid(now)) {
    StartHandshake(now, out);
    return;
  }
  std::vector<uint8_t> datagram(transport::kMinSize);
  if (SealWithCurrent(now, {}, datagram.data()) == 0) return;
  out.to_network.push_back(std::move(datagram));
  if (RekeyDue(now)) StartHandshake(now, out);
}

Keypair* Peer::KeypairFor(uint32_t local_index) {
  for (Keypair* k : {current_.get(), next_.get(), previous_.get()}) {
    if (k != nullptr && k->local_index() == local_index) return k;
  }
  return nullptr;
}

bool Peer::OwnsSession(uint32_t local_index) const {
  for (const Keypair* k : {current_.get(), next_.get(), previous_.get()}) {
    if (k != nullptr && k->local_index() == local_index) return true;
  }
  return false;
}

ReceiveResult Peer::Receive(absl::Time now, MessageType type,
                            absl::Span<uint8_t> message, const Endpoint& from,
                            PeerOutput& out) {
  switch (type) {
    case MessageType::kTransport:
      return ReceiveTransport(now, message, out);
    case MessageType::kResponse:
      return ReceiveResponse(now, message, out);
    case MessageType::kCookieReply:
      return ReceiveCookie(now, message, out);
    case MessageType::kInitiation: {
      if (!CheckMac1(message, local_.mac1_key())) {
        Fail(now, HandshakeFailure::kInvalidMac, out);
        return Dropped(DropReason::kInvalidPacket,
                       HandshakeFailure::kInvalidMac);
      }
      InitiationContents contents;
      const HandshakeFailure f =
          OpenInitiationStatic(local_, message, contents);
      if (f != HandshakeFailure::kNone) {
        Fail(now, f, out);
        return Dropped(DropReasonFor(f), f);
      }
      if (contents.remote_static != remote_key_) {
        Fail(now, HandshakeFailure::kUnauthorized, out);
        return Dropped(DropReason::kUnauthorized,
                       HandshakeFailure::kUnauthorized);
      }
      return AcceptInitiation(now, message, contents, from, out);
    }
  }
  return Dropped(DropReason::kInvalidPacket);
}

ReceiveResult Peer::AcceptInitiation(absl::Time now,
                                     absl::Span<const uint8_t> message,
                                     InitiationContents& contents,
                                     const Endpoint& from, PeerOutput& out) {
  crypto::Tai64n timestamp;
  HandshakeFailure f =
      OpenInitiationTimestamp(local_, message, contents, timestamp);
  if (f == HandshakeFailure::kNone &&
      !crypto::Tai64nAfter(timestamp, last_timestamp_)) {
    f = HandshakeFailure::kStaleTimestamp;
  }
  if (f == HandshakeFailure::kNone &&
      now - last_initiation_accepted_ < kInitiationFloodInterval) {
    f = HandshakeFailure::kRateLimited;
  }
  if (f != HandshakeFailure::kNone) {
    Fail(now, f, out);
    return Dropped(DropReasonFor(f), f);
  }

  const uint32_t index = rng_.NextU32();
  std::vector<uint8_t> msg(response::Size(config_->mode));
  TransportKeys keys;
  if (!WriteResponse(contents, config_->mode, from,
                     crypto::X25519KeyPair::Generate(rng_), index, msg.data(),
                     keys)) {
    Fail(now, HandshakeFailure::kDecryptFailed, out);
    return Dropped(DropReason::kDecryptFailed,
                   HandshakeFailure::kDecryptFailed);
  }
  last_timestamp_ = timestamp;
  last_initiation_accepted_ = now;
  last_sent_mac1_ = WriteMacs(absl::MakeSpan(msg), Mac1KeyFor(remote_key_),
                              cookies_.Current(now));
  last_sent_index_ = index;
  next_ = std::make_unique<Keypair>(keys, index, contents.remote_index,
                                    /*initiator=*/false, now);
  response_sent_at_ = now;
  last_sent_ = now;
  last_received_ = now;
  gave_up_ = false;
  out.to_network.push_back(std::move(msg));
  return ReceiveResult{ReceiveResult::Kind::kHandshake};
}

ReceiveResult Peer::ReceiveResponse(absl::Time now,
                                    absl::Span<const uint8_t> message,
                                    PeerOutput& out) {
  if (!CheckMac1(message, local_.mac1_key())) {
    Fail(now, HandshakeFailure::kInvalidMac, out);
    return Dropped(DropReason::kInvalidPacket, HandshakeFailure::kInvalidMac);
  }
  if (pending_ == nullptr) {
    return Dropped(DropReason::kInvalidPacket);  // Late or duplicated.
  }
  TransportKeys keys;
  std::optional<Endpoint> observed;
  const HandshakeFailure f =
      OpenResponse(local_, *pending_, message, config_->mode, keys, observed);
  if (f != HandshakeFailure::kNone) {
    Fail(now, f, out);
    return Dropped(DropReasonFor(f), f);
  }
  const uint32_t remote_index =
      ReadIndex(message.data() + response::kSenderIndex);
  previous_ = std::move(current_);
  current_ = std::make_unique<Keypair>(keys, pending_->local_index,
                                       remote_index, /*initiator=*/true, now);
  next_.reset();
  pending_.reset();
  retransmit_at_ = absl::InfiniteFuture();
  rekeyed_on_receive_ = false;
  last_received_ = now;
  last_handshake_ = now;
  new_handshake_at_ = absl::InfiniteFuture();
  if (observed.has_value()) {
    if (observed_ != nullptr && *observed_ != *observed) {
      out.events.push_back({PeerEventType::kAddressChanged});
    }
    if (observed_ == nullptr) {
      observed_ = std::make_unique<Endpoint>(*observed);
    } else {
      *observed_ = *observed;
    }
  }
  out.events.push_back({PeerEventType::kHandshakeCompleted,
                        HandshakeFailure::kNone, now - handshake_started_,
                        /*initiator=*/true});
  // Key confirmation: the responder may send only after it heard from us on
  // the new session, so send queued data now, or a keepalive.
  const size_t before = out.to_network.size();
  FlushQueue(now, out);
  if (out.to_network.size() == before) SendKeepalive(now, out);
  return ReceiveResult{ReceiveResult::Kind::kHandshake};
}

ReceiveResult Peer::ReceiveCookie(absl::Time now,
                                  absl::Span<const uint8_t> message,
                                  PeerOutput& out) {
  if (!last_sent_mac1_.has_value() ||
      !cookies_.ConsumeReply(message, last_sent_index_, *last_sent_mac1_,
                             CookieKeyFor(remote_key_), now)) {
    return Dropped(DropReason::kInvalidPacket);
  }
  out.events.push_back({PeerEventType::kCookieReceived});
  // Retry at once with mac2 rather than at the next retransmission (W15).
  if (pending_ != nullptr && last_sent_index_ == pending_->local_index) {
    SendInitiation(now, out);
  }
  return ReceiveResult{ReceiveResult::Kind::kCookie};
}

ReceiveResult Peer::ReceiveTransport(absl::Time now,
                                     absl::Span<uint8_t> message,
                                     PeerOutput& out) {
  Keypair* keypair =
      KeypairFor(ReadIndex(message.data() + transport::kReceiverIndex));
  if (keypair == nullptr || !keypair->Valid(now)) {
    return Dropped(DropReason::kDecryptFailed);
  }
  absl::Span<uint8_t> payload;
  const DropReason drop = keypair->Open(message, payload);
  if (drop != DropReason::kNone) return Dropped(drop);

  last_received_ = now;
  new_handshake_at_ = absl::InfiniteFuture();
  if (keypair == next_.get()) {
    // Key confirmation: the initiator used the session we answered with.
    previous_ = std::move(current_);
    current_ = std::move(next_);
    last_handshake_ = now;
    out.events.push_back({PeerEventType::kHandshakeCompleted,
                          HandshakeFailure::kNone, now - response_sent_at_,
                          /*initiator=*/false});
    FlushQueue(now, out);
  } else if (keypair == current_.get() && keypair->initiator() &&
             !rekeyed_on_receive_ &&
             now - keypair->created() >= kRekeyOnReceiveAge) {
    rekeyed_on_receive_ = true;
    StartHandshake(now, out);
  }
  if (payload.empty()) {
    // A liveness probe from the initiator: answer it (once, later, and only
    // if nothing else goes back first).
    if (Probing() && !keypair->initiator() &&
        keepalive_at_ == absl::InfiniteFuture()) {
      keepalive_at_ = now + kKeepaliveTimeout;
    }
    return ReceiveResult{ReceiveResult::Kind::kKeepalive};
  }
  if (keepalive_at_ == absl::InfiniteFuture()) {
    keepalive_at_ = now + kKeepaliveTimeout;
  }
  if (config_->mode == Mode::kWireGuard) {
    payload = payload.first(UnpaddedSize(payload));
  }
  return ReceiveResult{ReceiveResult::Kind::kData, DropReason::kNone,
                       HandshakeFailure::kNone, payload};
}

void Peer::DropExpiredKeypairs(absl::Time now) {
  for (std::unique_ptr<Keypair>* k : {&previous_, &current_, &next_}) {
    if (*k != nullptr && now - (*k)->created() >= kRejectAfterTime) k->reset();
  }
}

void Peer::OnTimer(absl::Time now, PeerOutput& out) {
  DropExpiredKeypairs(now);
  if (pending_ != nullptr) {
    if (now - handshake_started_ >= kRekeyAttemptTime) {
      pending_.reset();
      retransmit_at_ = absl::InfiniteFuture();
      new_handshake_at_ = absl::InfiniteFuture();
      gave_up_ = true;
      out.drops[static_cast<size_t>(DropReason::kNoTunnel)] +=
          static_cast<uint32_t>(queue_.size());
      queue_.clear();
      Fail(now, HandshakeFailure::kTimeout, out);
      out.events.push_back({PeerEventType::kExpired});
      return;
    }
    if (now >= retransmit_at_) SendInitiation(now, out);
    return;
  }
  if (now >= new_handshake_at_) {
    new_handshake_at_ = absl::InfiniteFuture();
    StartHandshake(now, out);
    if (pending_ != nullptr) return;
  }
  if (now >= keepalive_at_) {
    keepalive_at_ = absl::InfiniteFuture();
    if (current_ != nullptr && current_->Valid(now)) SendKeepalive(now, out);
  }
  if (config_->persistent_keepalive > absl::ZeroDuration() && !gave_up_ &&
      now - std::max<absl::Time>(last_sent_, last_received_) >=
          config_->persistent_keepalive) {
    SendKeepalive(now, out);
  }
}

absl::Time Peer::NextDeadline() const {
  absl::Time next = absl::InfiniteFuture();
  if (pending_ != nullptr) {
    next = std::min<absl::Time>(retransmit_at_,
                                handshake_started_ + kRekeyAttemptTime);
  } else {
    next = std::min<absl::Time>(new_handshake_at_, keepalive_at_);
  }
  for (const Keypair* k : {previous_.get(), current_.get(), next_.get()}) {
    if (k != nullptr) next = std::min(next, k->created() + kRejectAfterTime);
  }
  if (config_->persistent_keepalive > absl::ZeroDuration() && !gave_up_ &&
      pending_ == nullptr) {
    const absl::Time last = std::max<absl::Time>(last_sent_, last_received_);
    if (last != absl::InfinitePast()) {
      next = std::min(next, last + config_->persistent_keepalive);
    }
  }
  return next;
}

bool Peer::Established(absl::Time now) const {
  return current_ != nullptr && current_->Valid(now);
}

bool Peer::Dead(absl::Time now) const {
  if (pending_ != nullptr) return false;
  for (const Keypair* k : {previous_.get(), current_.get(), next_.get()}) {
    if (k != nullptr && k->Valid(now)) return false;
  }
  return true;
}

}  // namespace snaptun::core
