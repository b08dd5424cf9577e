// The handshake steps, commented with the Noise tokens they implement so the
// code reads beside the WireGuard paper (§5.4.2, §5.4.3, §5.4.5).
#include "tunnel/core/noise.h"

#include <cstring>
#include <utility>

#include "tunnel/core/ip_socket_addr.h"
#include "tunnel/crypto/aead.h"
#include "tunnel/crypto/blake2s.h"

namespace snaptun::core {
namespace {

using crypto::Bytes;
using crypto::Secret;
using crypto::SymmetricKey;

constexpr char kConstruction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
constexpr char kIdentifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";

absl::Span<const uint8_t> Label(const char* s, size_t n) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s), n);
}

// C0 = HASH(construction), H0 = HASH(C0 ‖ identifier), computed once.
const NoiseState& InitialState() {
  static const NoiseState* state = [] {
    auto* s = new NoiseState;
    const Bytes<32> c0 =
        crypto::Hash({Label(kConstruction, sizeof(kConstruction) - 1)});
    s->chaining_key = Secret<32>(c0);
    s->hash = crypto::Hash({c0, Label(kIdentifier, sizeof(kIdentifier) - 1)});
    return s;
  }();
  return *state;
}

void MixHash(NoiseState& s, absl::Span<const uint8_t> data) {
  s.hash = crypto::Hash({s.hash, data});
}

// `e` token in psk mode: MixHash and MixKey of the ephemeral public key.
void MixEphemeral(NoiseState& s, const crypto::PublicKey& ephemeral) {
  crypto::Kdf1(s.chaining_key, ephemeral, s.chaining_key);
  MixHash(s, ephemeral);
}

// A DH token given its agreement: (C, k) = KDF2(C, dh), or C = KDF1(C, dh)
// when no key is wanted. The static-static `ss` may come precomputed.
void MixSharedSecret(NoiseState& s, const SymmetricKey& dh, SymmetricKey* key) {
  if (key == nullptr) {
    crypto::Kdf1(s.chaining_key, dh.span(), s.chaining_key);
  } else {
    crypto::Kdf2(s.chaining_key, dh.span(), s.chaining_key, *key);
  }
}

// A DH token: the agreement, then MixSharedSecret. False on a zero DH
// result.
bool MixDh(NoiseState& s, const crypto::X25519KeyPair& ours,
           const crypto::PublicKey& theirs, SymmetricKey* key) {
  SymmetricKey dh;
  if (!ours.Agree(theirs, dh)) return false;
  MixSharedSecret(s, dh, key);
  return true;
}

// The `psk` token with an all-zero PSK: (C, τ, k) = KDF3(C, Q); MixHash(τ).
void MixZeroPsk(NoiseState& s, SymmetricKey& key) {
  static constexpr uint8_t kZeroPsk[32] = {};
  Secret<32> tau;
  crypto::Kdf3(s.chaining_key, kZeroPsk, s.chaining_key, tau, key);
  MixHash(s, tau.span());
}

void DeriveTransportKeys(const NoiseState& s, bool initiator,
                         TransportKeys& keys) {
  Secret<32> t1, t2;
  crypto::Kdf2(s.chaining_key, {}, t1, t2);
  keys.send = initiator ? t1 : t2;
  keys.receive = initiator ? t2 : t1;
}

}  // namespace

std::optional<crypto::SymmetricKey> StaticSecret(
    const LocalIdentity& local, const crypto::PublicKey& remote) {
  SymmetricKey dh;
  if (!local.key_pair().Agree(remote, dh)) return std::nullopt;
  return dh;
}

std::optional<InitiatorState> WriteInitiation(
    const LocalIdentity& local, const crypto::PublicKey& remote,
    crypto::X25519KeyPair ephemeral, uint32_t sender_index,
    const crypto::Tai64n& timestamp, uint8_t* out,
    const crypto::SymmetricKey* static_secret) {
  InitiatorState st{InitialState(), std::move(ephemeral), sender_index};
  NoiseState& s = st.noise;
  MixHash(s, remote);  // Pre-message: the responder's static key.

  WriteHeader(out, MessageType::kInitiation);
  WriteIndex(out + initiation::kSenderIndex, sender_index);

  // e
  const crypto::PublicKey& e_pub = st.ephemeral.public_key();
  std::memcpy(out + initiation::kEphemeral, e_pub.data(), 32);
  MixEphemeral(s, e_pub);

  // es
  SymmetricKey key;
  if (!MixDh(s, st.ephemeral, remote, &key)) return std::nullopt;

  // s
  uint8_t* enc_static = out + initiation::kStatic;
  if (!crypto::AeadSeal(key, 0, local.public_key(), s.hash, enc_static)) {
    return std::nullopt;
  }
  MixHash(s, absl::MakeConstSpan(enc_static, 48));

  // ss
  if (static_secret != nullptr) {
    MixSharedSecret(s, *static_secret, &key);
  } else if (!MixDh(s, local.key_pair(), remote, &key)) {
    return std::nullopt;
  }

  // {t}
  uint8_t* enc_time = out + initiation::kTimestamp;
  if (!crypto::AeadSeal(key, 0, timestamp, s.hash, enc_time)) {
    return std::nullopt;
  }
  MixHash(s, absl::MakeConstSpan(enc_time, 28));
  return st;
}

HandshakeFailure OpenInitiationStatic(const LocalIdentity& local,
                                      absl::Span<const uint8_t> message,
                                      InitiationContents& c) {
  if (message.size() != initiation::kSize) {
    return HandshakeFailure::kDecryptFailed;
  }
  c.noise = InitialState();
  NoiseState& s = c.noise;
  MixHash(s, local.public_key());
  c.remote_index = ReadIndex(message.data() + initiation::kSenderIndex);

  // e
  std::memcpy(c.remote_ephemeral.data(),
              message.data() + initiation::kEphemeral, 32);
  MixEphemeral(s, c.remote_ephemeral);

  // es
  SymmetricKey key;
  if (!MixDh(s, local.key_pair(), c.remote_ephemeral, &key)) {
    return HandshakeFailure::kDecryptFailed;
  }

  // s
  const auto enc_static = message.subspan(initiation::kStatic, 48);
  if (!crypto::AeadOpen(key, 0, enc_static, s.hash, c.remote_static.data())) {
    return HandshakeFailure::kDecryptFailed;
  }
  MixHash(s, enc_static);
  return HandshakeFailure::kNone;
}

HandshakeFailure OpenInitiationTimestamp(const LocalIdentity& local,
                                         absl::Span<const uint8_t> message,
                                         InitiationContents& c,
                                         crypto::Tai64n& timestamp) {
  NoiseState& s = c.noise;
  // ss
  SymmetricKey key;
  if (c.static_secret.has_value()) {
    MixSharedSecret(s, *c.static_secret, &key);
  } else if (!MixDh(s, local.key_pair(), c.remote_static, &key)) {
    return HandshakeFailure::kDecryptFailed;
  }
  // {t}
  const auto enc_time = message.subspan(initiation::kTimestamp, 28);
  if (!crypto::AeadOpen(key, 0, enc_time, s.hash, timestamp.data())) {
    return HandshakeFailure::kDecryptFailed;
  }
  MixHash(s, enc_time);
  return HandshakeFailure::kNone;
}

namespace {

// The response with `address_field` sealed (SNAP) or nothing (WireGuard).
bool WriteResponseSealing(InitiationContents& c, Mode mode,
                          absl::Span<const uint8_t> address_field,
                          crypto::X25519KeyPair ephemeral,
                          uint32_t sender_index, uint8_t* out,
                          TransportKeys& keys) {
  NoiseState& s = c.noise;
  WriteHeader(out, MessageType::kResponse);
  WriteIndex(out + response::kSenderIndex, sender_index);
  WriteIndex(out + response::kReceiverIndex, c.remote_index);

  // e
  const crypto::PublicKey& e_pub = ephemeral.public_key();
  std::memcpy(out + response::kEphemeral, e_pub.data(), 32);
  MixEphemeral(s, e_pub);

  // ee, se
  if (!MixDh(s, ephemeral, c.remote_ephemeral, nullptr)) return false;
  if (!MixDh(s, ephemeral, c.remote_static, nullptr)) return false;

  // psk
  SymmetricKey key;
  MixZeroPsk(s, key);

  // {} in WireGuard; {observed address} in SNAP. ana-gotatun does not mix
  // the sealed field into the hash, and nothing later reads the hash, so
  // both modes leave it unmixed.
  uint8_t* sealed = out + response::kSealed;
  if (mode == Mode::kSnap) {
    if (address_field.size() != kIpSocketAddrSize ||
        !crypto::AeadSeal(key, 0, address_field, s.hash, sealed)) {
      return false;
    }
  } else if (!crypto::AeadSeal(key, 0, {}, s.hash, sealed)) {
    return false;
  }
  DeriveTransportKeys(s, /*initiator=*/false, keys);
  return true;
}

}  // namespace

bool WriteResponse(InitiationContents& c, Mode mode, const Endpoint& observed,
                   crypto::X25519KeyPair ephemeral, uint32_t sender_index,
                   uint8_t* out, TransportKeys& keys) {
  const auto addr = EncodeIpSocketAddr(observed);
  return WriteResponseSealing(c, mode, addr, std::move(ephemeral), sender_index,
                              out, keys);
}

bool WriteSnapResponseSealing(InitiationContents& c,
                              absl::Span<const uint8_t> address_field,
                              crypto::X25519KeyPair ephemeral,
                              uint32_t sender_index, uint8_t* out,
                              TransportKeys& keys) {
  return WriteResponseSealing(c, Mode::kSnap, address_field,
                              std::move(ephemeral), sender_index, out, keys);
}

HandshakeFailure OpenResponse(const LocalIdentity& local, InitiatorState& st,
                              absl::Span<const uint8_t> message, Mode mode,
                              TransportKeys& keys,
                              std::optional<Endpoint>& observed) {
  if (message.size() != response::Size(mode) ||
      ReadIndex(message.data() + response::kReceiverIndex) != st.local_index) {
    return HandshakeFailure::kDecryptFailed;
  }
  // Work on a copy: a forged response must not disturb the pending state.
  NoiseState s = st.noise;

  // e
  crypto::PublicKey remote_ephemeral;
  std::memcpy(remote_ephemeral.data(), message.data() + response::kEphemeral,
              32);
  MixEphemeral(s, remote_ephemeral);

  // ee, se
  if (!MixDh(s, st.ephemeral, remote_ephemeral, nullptr) ||
      !MixDh(s, local.key_pair(), remote_ephemeral, nullptr)) {
    return HandshakeFailure::kDecryptFailed;
  }

  // psk
  SymmetricKey key;
  MixZeroPsk(s, key);

  const auto sealed =
      message.subspan(response::kSealed, response::SealedSize(mode));
  if (mode == Mode::kSnap) {
    uint8_t addr[kIpSocketAddrSize];
    if (!crypto::AeadOpen(key, 0, sealed, s.hash, addr)) {
      return HandshakeFailure::kDecryptFailed;
    }
    observed = DecodeIpSocketAddr(addr);
    if (!observed.has_value()) return HandshakeFailure::kAddressRejected;
  } else {
    if (!crypto::AeadOpen(key, 0, sealed, s.hash, nullptr)) {
      return HandshakeFailure::kDecryptFailed;
    }
    observed.reset();
  }
  DeriveTransportKeys(s, /*initiator=*/true, keys);
  st.noise.chaining_key.Clear();
  return HandshakeFailure::kNone;
}

}  // namespace snaptun::core
