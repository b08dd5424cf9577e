// The gateway's question to the layer above: may this static identity use
// the gateway right now? Asked when an initiation arrives (before any state
// is created), on every packet in both directions, and when a grant's expiry
// passes. The answer carries the grant, so callers always see the freshest
// session data (snap-tun 0.6.0 semantics).
#ifndef SNAPTUN_TUNNEL_CORE_AUTHORIZER_H_
#define SNAPTUN_TUNNEL_CORE_AUTHORIZER_H_

#include <cstdint>
#include <optional>

#include "absl/time/time.h"
#include "tunnel/crypto/secret.h"

namespace snaptun::core {

struct Grant {
  // When the identity stops being authorized unless renewed.
  absl::Time expires_at = absl::InfiniteFuture();
  // Changes whenever the grant is renewed or its data changes.
  uint64_t version = 0;
};

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  // The identity's grant if it is authorized at `now`, else nullopt.
  virtual std::optional<Grant> Authorize(
      absl::Time now, const crypto::PublicKey& identity) const = 0;
  // DH(gateway static, identity) if the authorizer computed it when the
  // identity was authorized (noise.h StaticSecret); the handshake then skips
  // that X25519. Asked once per initiation, after Authorize said yes.
  virtual std::optional<crypto::SymmetricKey> PrecomputedStaticSecret(
      const crypto::PublicKey& /*identity*/) const {
    return std::nullopt;
  }
};

}  // namespace snaptun::core

#endif  // SNAPTUN_TUNNEL_CORE_AUTHORIZER_H_
