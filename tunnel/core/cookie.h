// mac1, mac2 and cookie replies: WireGuard's defence against handshake
// floods. mac1 proves the sender knows our public key; under load, mac2
// proves it can receive at its source address, through a cookie we handed it
// in a cookie reply. `CookieChecker` is the receiving side (one per local
// identity), `CookieJar` the sending side (one per peer we initiate to).
// The cookie covers the source IP and port (implementation-local: only its
// issuer recomputes it).
#ifndef SNAPTUN_TUNNEL_CORE_COOKIE_H_
#define SNAPTUN_TUNNEL_CORE_COOKIE_H_

#include <cstdint>
#include <optional>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "tunnel/core/compact_time.h"
#include "tunnel/core/endpoint.h"
#include "tunnel/core/identity.h"
#include "tunnel/crypto/random.h"
#include "tunnel/crypto/secret.h"

namespace snaptun::core {

using Cookie = crypto::Bytes<16>;

// How long a cookie secret (and a received cookie) is good for.
inline constexpr absl::Duration kCookieRefreshTime = absl::Seconds(120);

// Writes mac1 (keyed with the receiver's mac1 key) and mac2 (with `cookie`,
// or zeros without one) into the last 32 bytes of a handshake message and
// returns mac1.
crypto::Bytes<16> WriteMacs(absl::Span<uint8_t> message,
                            const crypto::Bytes<32>& receiver_mac1_key,
                            const std::optional<Cookie>& cookie);

// True when the message's mac1 is valid for `own_mac1_key`. Constant time.
bool CheckMac1(absl::Span<const uint8_t> message,
               const crypto::Bytes<32>& own_mac1_key);

// Writes a 64-byte cookie reply answering the message whose sender index is
// `receiver_index` and whose mac1 is `mac1`.
bool WriteCookieReply(uint32_t receiver_index, const crypto::Bytes<24>& nonce,
                      const Cookie& cookie, const crypto::Bytes<16>& mac1,
                      const crypto::SymmetricKey& own_cookie_key, uint8_t* out);

class CookieChecker {
 public:
  explicit CookieChecker(const LocalIdentity& local) : local_(local) {}

  // True when the message's mac2 matches the cookie of `from`.
  bool CheckMac2(absl::Span<const uint8_t> message, const Endpoint& from,
                 absl::Time now, crypto::RandomSource& rng);

  // A cookie reply for `message` (a mac1-valid handshake message).
  bool WriteReply(absl::Span<const uint8_t> message, const Endpoint& from,
                  absl::Time now, crypto::RandomSource& rng, uint8_t* out);

 private:
  Cookie CookieFor(const Endpoint& from, absl::Time now,
                   crypto::RandomSource& rng);

  const LocalIdentity& local_;
  crypto::Secret<32> secret_;
  absl::Time secret_born_ = absl::InfinitePast();
};

class CookieJar {
 public:
  // Takes a cookie from a reply to the handshake message we sent with
  // `sent_index` and `sent_mac1`. False (and nothing stored) if the reply is
  // for another message or does not decrypt.
  bool ConsumeReply(absl::Span<const uint8_t> reply, uint32_t sent_index,
                    const crypto::Bytes<16>& sent_mac1,
                    const crypto::SymmetricKey& remote_cookie_key,
                    absl::Time now);

  // The cookie to use for mac2, if one younger than kCookieRefreshTime.
  std::optional<Cookie> Current(absl::Time now) const;

  void Clear() { cookie_.reset(); }

 private:
  std::optional<Cookie> cookie_;
  CompactTime received_at_ = absl::InfinitePast();
};

}  // namespace snaptun::core

#endif  // SNAPTUN_TUNNEL_CORE_COOKIE_H_
