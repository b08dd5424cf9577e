// Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s as WireGuard runs it, with the SNAP
// extension: in SNAP mode the response seals the initiator's observed
// address where WireGuard seals nothing. These are the handshake steps alone,
// as functions of their inputs (ephemeral keys, indices and timestamps come
// from the caller), so the known-answer vectors can drive them directly; the
// per-peer state machine in peer.h decides when to call them. The PSK is
// always 32 zero bytes (SNAP has none). mac1/mac2 are written by cookie.h.
#ifndef SNAPTUN_TUNNEL_CORE_NOISE_H_
#define SNAPTUN_TUNNEL_CORE_NOISE_H_

#include <cstdint>
#include <optional>

#include "absl/types/span.h"
#include "tunnel/core/endpoint.h"
#include "tunnel/core/identity.h"
#include "tunnel/core/messages.h"
#include "tunnel/core/verdict.h"
#include "tunnel/crypto/secret.h"
#include "tunnel/crypto/tai64n.h"
#include "tunnel/crypto/x25519.h"

namespace snaptun::core {

// The symmetric state of a handshake in progress: chaining key and hash.
struct NoiseState {
  crypto::Secret<32> chaining_key;
  crypto::Bytes<32> hash;
};

// What the initiator keeps between its initiation and the response.
struct InitiatorState {
  NoiseState noise;
  crypto::X25519KeyPair ephemeral;
  uint32_t local_index = 0;
};

// What the responder learns from an initiation.
struct InitiationContents {
  NoiseState noise;
  crypto::PublicKey remote_static{};
  crypto::PublicKey remote_ephemeral{};
  uint32_t remote_index = 0;
  // DH(local static, remote_static) when the caller precomputed it (the
  // gateway does, per authorized identity): `ss` then costs no X25519.
  std::optional<crypto::SymmetricKey> static_secret;
};

// The two transport keys a completed handshake yields.
struct TransportKeys {
  crypto::SymmetricKey send;
  crypto::SymmetricKey receive;
};

// Initiator: writes bytes [0, 116) of an initiation to `remote` into `out`
// (mac1/mac2 are left for the caller) and returns the state to keep. nullopt
// if a DH result is zero (remote is a low-order point). `static_secret`, if
// given, is DH(local static, remote) computed earlier (StaticSecret below),
// and replaces the `ss` agreement.
std::optional<InitiatorState> WriteInitiation(
    const LocalIdentity& local, const crypto::PublicKey& remote,
    crypto::X25519KeyPair ephemeral, uint32_t sender_index,
    const crypto::Tai64n& timestamp, uint8_t* out,
    const crypto::SymmetricKey* static_secret = nullptr);

// The static-static agreement DH(local static, remote) that both sides mix
// as `ss`; it depends only on the two identities, so it can be computed once
// per peer. nullopt for a low-order `remote`.
std::optional<crypto::SymmetricKey> StaticSecret(
    const LocalIdentity& local, const crypto::PublicKey& remote);

// Responder, first half (`e`, `es`, `s`): recovers the initiator's static
// key from a classified 148-byte initiation without any peer state. One
// X25519 and one AEAD open; no timestamp check.
HandshakeFailure OpenInitiationStatic(const LocalIdentity& local,
                                      absl::Span<const uint8_t> message,
                                      InitiationContents& contents);

// Responder, second half (`ss`, `{t}`): decrypts the timestamp. Call only
// after the static key was found acceptable. Uses contents.static_secret for
// `ss` when it is set.
HandshakeFailure OpenInitiationTimestamp(const LocalIdentity& local,
                                         absl::Span<const uint8_t> message,
                                         InitiationContents& contents,
                                         crypto::Tai64n& timestamp);

// Responder: writes bytes [0, Mac1(mode)) of the response into `out` and the
// transport keys into `keys`. In SNAP mode `observed` is sealed.
bool WriteResponse(InitiationContents& contents, Mode mode,
                   const Endpoint& observed, crypto::X25519KeyPair ephemeral,
                   uint32_t sender_index, uint8_t* out, TransportKeys& keys);

// SNAP responder with the sealed address field given as its
// kIpSocketAddrSize bytes rather than encoded from an Endpoint: lets tests
// send a response whose address does not decode (W35). WriteResponse is
// this with EncodeIpSocketAddr(observed).
bool WriteSnapResponseSealing(InitiationContents& contents,
                              absl::Span<const uint8_t> address_field,
                              crypto::X25519KeyPair ephemeral,
                              uint32_t sender_index, uint8_t* out,
                              TransportKeys& keys);

// Initiator: checks a classified response against `state`. In SNAP mode
// `observed` receives the decoded address; a field that decrypts but does
// not decode fails the handshake with kAddressRejected (the reference kept
// such sessions and looped, W35).
HandshakeFailure OpenResponse(const LocalIdentity& local, InitiatorState& state,
                              absl::Span<const uint8_t> message, Mode mode,
                              TransportKeys& keys,
                              std::optional<Endpoint>& observed);

}  // namespace snaptun::core

#endif  // SNAPTUN_TUNNEL_CORE_NOISE_H_
