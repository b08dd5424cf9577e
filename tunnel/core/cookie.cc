// mac1/mac2 computation and cookie reply creation and consumption.
#include "tunnel/core/cookie.h"

#include <cstring>

#include "tunnel/core/messages.h"
#include "tunnel/crypto/aead.h"
#include "tunnel/crypto/blake2s.h"

namespace snaptun::core {

crypto::Bytes<16> WriteMacs(absl::Span<uint8_t> message,
                            const crypto::Bytes<32>& receiver_mac1_key,
                            const std::optional<Cookie>& cookie) {
  const size_t mac1_at = message.size() - 32;
  const crypto::Bytes<16> mac1 = crypto::Mac(
      receiver_mac1_key, {absl::MakeConstSpan(message.data(), mac1_at)});
  std::memcpy(message.data() + mac1_at, mac1.data(), 16);
  if (cookie.has_value()) {
    const crypto::Bytes<16> mac2 = crypto::Mac(
        *cookie, {absl::MakeConstSpan(message.data(), mac1_at + 16)});
    std::memcpy(message.data() + mac1_at + 16, mac2.data(), 16);
  } else {
    std::memset(message.data() + mac1_at + 16, 0, 16);
  }
  return mac1;
}

bool CheckMac1(absl::Span<const uint8_t> message,
               const crypto::Bytes<32>& own_mac1_key) {
  if (message.size() < 32) return false;
  const size_t mac1_at = message.size() - 32;
  const crypto::Bytes<16> expected =
      crypto::Mac(own_mac1_key, {message.subspan(0, mac1_at)});
  return crypto::ConstantTimeEqual(expected, message.subspan(mac1_at, 16));
}

bool WriteCookieReply(uint32_t receiver_index, const crypto::Bytes<24>& nonce,
                      const Cookie& cookie, const crypto::Bytes<16>& mac1,
                      const crypto::SymmetricKey& own_cookie_key,
                      uint8_t* out) {
  WriteHeader(out, MessageType::kCookieReply);
  WriteIndex(out + cookie_reply::kReceiverIndex, receiver_index);
  std::memcpy(out + cookie_reply::kNonce, nonce.data(), 24);
  return crypto::XAeadSeal(own_cookie_key, nonce, cookie, mac1,
                           out + cookie_reply::kCookie);
}

Cookie CookieChecker::CookieFor(const Endpoint& from, absl::Time now,
                                crypto::RandomSource& rng) {
  if (now - secret_born_ >= kCookieRefreshTime || now < secret_born_) {
    rng.Fill(secret_.mutable_span());
    secret_born_ = now;
  }
  const uint8_t port[2] = {static_cast<uint8_t>(from.port() >> 8),
                           static_cast<uint8_t>(from.port())};
  return crypto::Mac(secret_.span(), {from.address(), port});
}

bool CookieChecker::CheckMac2(absl::Span<const uint8_t> message,
                              const Endpoint& from, absl::Time now,
                              crypto::RandomSource& rng) {
  if (message.size() < 32) return false;
  const Cookie cookie = CookieFor(from, now, rng);
  const size_t mac2_at = message.size() - 16;
  const crypto::Bytes<16> expected =
      crypto::Mac(cookie, {message.subspan(0, mac2_at)});
  return crypto::ConstantTimeEqual(expected, message.subspan(mac2_at, 16));
}

bool CookieChecker::WriteReply(absl::Span<const uint8_t> message,
                               const Endpoint& from, absl::Time now,
                               crypto::RandomSource& rng, uint8_t* out) {
  if (message.size() < 32) return false;
  const Cookie cookie = CookieFor(from, now, rng);
  crypto::Bytes<24> nonce;
  rng.Fill(absl::MakeSpan(nonce));
  crypto::Bytes<16> mac1;
  std::memcpy(mac1.data(), message.data() + message.size() - 32, 16);
  // Handshake messages carry their sender index at offset 4.
  return WriteCookieReply(ReadIndex(message.data() + 4), nonce, cookie, mac1,
                          local_.cookie_key(), out);
}

bool CookieJar::ConsumeReply(absl::Span<const uint8_t> reply,
                             uint32_t sent_index,
                             const crypto::Bytes<16>& sent_mac1,
                             const crypto::SymmetricKey& remote_cookie_key,
                             absl::Time now) {
  if (reply.size() != cookie_reply::kSize ||
      ReadIndex(reply.data() + cookie_reply::kReceiverIndex) != sent_index) {
    return false;
  }
  crypto::Bytes<24> nonce;
  std::memcpy(nonce.data(), reply.data() + cookie_reply::kNonce, 24);
  Cookie cookie;
  if (!crypto::XAeadOpen(remote_cookie_key, nonce,
                         reply.subspan(cookie_reply::kCookie, 32), sent_mac1,
                         cookie.data())) {
    return false;
  }
  cookie_ = cookie;
  received_at_ = now;
  return true;
}

std::optional<Cookie> CookieJar::Current(absl::Time now) const {
  if (!cookie_.has_value() || now - received_at_ >= kCookieRefreshTime) {
    return std::nullopt;
  }
  return cookie_;
}

}  // namespace snaptun::core
