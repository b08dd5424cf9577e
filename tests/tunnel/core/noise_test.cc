// The handshake against the known-answer vectors in both modes, then the
// ways a handshake message can be wrong.
#include "tunnel/core/noise.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/testing/hex.h"
#include "tests/tunnel/core/vectors.h"
#include "tunnel/core/cookie.h"
#include "tunnel/core/ip_socket_addr.h"

namespace snaptun::core {
namespace {

using ::snaptun::testing::FromHex;
using ::snaptun::testing::Sequence;
using ::snaptun::testing::ToHex;

crypto::PrivateKey KeyFrom(uint8_t first) {
  crypto::PrivateKey key;
  const auto seq = Sequence(first, 32);
  std::copy(seq.begin(), seq.end(), key.data());
  return key;
}

crypto::X25519KeyPair PairFrom(uint8_t first) {
  return crypto::X25519KeyPair::FromPrivateKey(KeyFrom(first));
}

const Endpoint kObserved = Endpoint::Ipv4({192, 0, 2, 7}, 51820);

class NoiseVectorTest : public ::testing::Test {
 protected:
  crypto::Tai64n Timestamp() {
    crypto::Tai64n ts{};
    const auto v = FromHex(vectors::kTimestamp);
    std::copy(v.begin(), v.end(), ts.begin());
    return ts;
  }

  std::vector<uint8_t> Initiation(std::optional<InitiatorState>& state) {
    std::vector<uint8_t> msg(initiation::kSize);
    state = WriteInitiation(initiator_, responder_.public_key(), PairFrom(0x40),
                            vectors::kIndexI, Timestamp(), msg.data());
    WriteMacs(absl::MakeSpan(msg),
              RemoteIdentity(responder_.public_key()).mac1_key, std::nullopt);
    return msg;
  }

  std::vector<uint8_t> Response(Mode mode, InitiationContents& contents,
                                TransportKeys& keys) {
    std::vector<uint8_t> msg(response::Size(mode));
    EXPECT_TRUE(WriteResponse(contents, mode, kObserved, PairFrom(0x60),
                              vectors::kIndexR, msg.data(), keys));
    WriteMacs(absl::MakeSpan(msg),
              RemoteIdentity(initiator_.public_key()).mac1_key, std::nullopt);
    return msg;
  }

  LocalIdentity initiator_{KeyFrom(0x00)};
  LocalIdentity responder_{KeyFrom(0x20)};
};

TEST_F(NoiseVectorTest, PublicKeys) {
  EXPECT_EQ(ToHex(initiator_.public_key()), vectors::kSpubI);
  EXPECT_EQ(ToHex(responder_.public_key()), vectors::kSpubR);
  EXPECT_EQ(ToHex(PairFrom(0x40).public_key()), vectors::kEpubI);
  EXPECT_EQ(ToHex(PairFrom(0x60).public_key()), vectors::kEpubR);
}

TEST_F(NoiseVectorTest, InitiationBytes) {
  std::optional<InitiatorState> state;
  const auto msg = Initiation(state);
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(ToHex(msg), vectors::kInit);
  EXPECT_TRUE(CheckMac1(msg, responder_.mac1_key()));
  EXPECT_FALSE(CheckMac1(msg, initiator_.mac1_key()));
}

TEST_F(NoiseVectorTest, ResponderRecoversStaticAndTimestamp) {
  const auto msg = FromHex(vectors::kInit);
  InitiationContents contents;
  ASSERT_EQ(OpenInitiationStatic(responder_, msg, contents),
            HandshakeFailure::kNone);
  EXPECT_EQ(ToHex(contents.remote_static), vectors::kSpubI);
  EXPECT_EQ(contents.remote_index, vectors::kIndexI);
  crypto::Tai64n ts;
  ASSERT_EQ(OpenInitiationTimestamp(responder_, msg, contents, ts),
            HandshakeFailure::kNone);
  EXPECT_EQ(ToHex(ts), vectors::kTimestamp);
}

// The static-static secret is DH(s_i, S_r) = DH(s_r, S_i); either side may
// compute it once and pass it in, and the messages stay the vectors' bytes.
TEST_F(NoiseVectorTest, PrecomputedStaticSecretGivesTheSameHandshake) {
  const std::optional<crypto::SymmetricKey> ss =
      StaticSecret(initiator_, responder_.public_key());
  ASSERT_TRUE(ss.has_value());
  const std::optional<crypto::SymmetricKey> ss_r =
      StaticSecret(responder_, initiator_.public_key());
  ASSERT_TRUE(ss_r.has_value());
  EXPECT_EQ(ToHex(ss->span()), ToHex(ss_r->span()));

  std::vector<uint8_t> msg(initiation::kSize);
  ASSERT_TRUE(WriteInitiation(initiator_, responder_.public_key(),
                              PairFrom(0x40), vectors::kIndexI, Timestamp(),
                              msg.data(), &*ss)
                  .has_value());
  WriteMacs(absl::MakeSpan(msg),
            RemoteIdentity(responder_.public_key()).mac1_key, std::nullopt);
  EXPECT_EQ(ToHex(msg), vectors::kInit);

  InitiationContents contents;
  ASSERT_EQ(OpenInitiationStatic(responder_, msg, contents),
            HandshakeFailure::kNone);
  contents.static_secret = *ss_r;
  crypto::Tai64n ts;
  ASSERT_EQ(OpenInitiationTimestamp(responder_, msg, contents, ts),
            HandshakeFailure::kNone);
  EXPECT_EQ(ToHex(ts), vectors::kTimestamp);
  TransportKeys keys;
  EXPECT_EQ(ToHex(Response(Mode::kSnap, contents, keys)), vectors::kRespSnap);
}

// A precomputed secret is really what `ss` mixes: a wrong one fails the
// timestamp's decryption, and a low-order key has none.
TEST_F(NoiseVectorTest, WrongPrecomputedStaticSecretFails) {
  const auto msg = FromHex(vectors::kInit);
  InitiationContents contents;
  ASSERT_EQ(OpenInitiationStatic(responder_, msg, contents),
            HandshakeFailure::kNone);
  contents.static_secret = StaticSecret(responder_, responder_.public_key());
  ASSERT_TRUE(contents.static_secret.has_value());
  crypto::Tai64n ts;
  EXPECT_EQ(OpenInitiationTimestamp(responder_, msg, contents, ts),
            HandshakeFailure::kDecryptFailed);
  EXPECT_FALSE(StaticSecret(responder_, crypto::PublicKey{}).has_value());

  // The initiator side too: an initiation written with a wrong secret
  // fails at a responder that computes `ss` itself.
  const std::optional<crypto::SymmetricKey> wrong =
      StaticSecret(initiator_, initiator_.public_key());
  ASSERT_TRUE(wrong.has_value());
  std::vector<uint8_t> bad(initiation::kSize);
  ASSERT_TRUE(WriteInitiation(initiator_, responder_.public_key(),
                              PairFrom(0x40), vectors::kIndexI, Timestamp(),
                              bad.data(), &*wrong)
                  .has_value());
  InitiationContents from_bad;
  ASSERT_EQ(OpenInitiationStatic(responder_, bad, from_bad),
            HandshakeFailure::kNone);
  EXPECT_EQ(OpenInitiationTimestamp(responder_, bad, from_bad, ts),
            HandshakeFailure::kDecryptFailed);
}

TEST_F(NoiseVectorTest, FullHandshakeBothModes) {
  for (Mode mode : {Mode::kSnap, Mode::kWireGuard}) {
    SCOPED_TRACE(mode == Mode::kSnap ? "snap" : "wireguard");
    std::optional<InitiatorState> state;
    const auto init = Initiation(state);
    InitiationContents contents;
    crypto::Tai64n ts;
    ASSERT_EQ(OpenInitiationStatic(responder_, init, contents),
              HandshakeFailure::kNone);
    ASSERT_EQ(OpenInitiationTimestamp(responder_, init, contents, ts),
              HandshakeFailure::kNone);
    TransportKeys responder_keys;
    const auto resp = Response(mode, contents, responder_keys);
    EXPECT_EQ(ToHex(resp),
              mode == Mode::kSnap ? vectors::kRespSnap : vectors::kResp);
    EXPECT_EQ(ToHex(responder_keys.receive.span()), vectors::kTInitiatorSend);
    EXPECT_EQ(ToHex(responder_keys.send.span()), vectors::kTInitiatorReceive);

    TransportKeys initiator_keys;
    std::optional<Endpoint> observed;
    ASSERT_EQ(
        OpenResponse(initiator_, *state, resp, mode, initiator_keys, observed),
        HandshakeFailure::kNone);
    EXPECT_EQ(ToHex(initiator_keys.send.span()), vectors::kTInitiatorSend);
    EXPECT_EQ(ToHex(initiator_keys.receive.span()),
              vectors::kTInitiatorReceive);
    if (mode == Mode::kSnap) {
      ASSERT_TRUE(observed.has_value());
      EXPECT_EQ(*observed, kObserved);
      EXPECT_EQ(ToHex(EncodeIpSocketAddr(*observed)), vectors::kObservedSnap);
    } else {
      EXPECT_FALSE(observed.has_value());
    }
  }
}

TEST_F(NoiseVectorTest, CookieReplyAndMac2) {
  const auto init = FromHex(vectors::kInit);
  crypto::Bytes<16> mac1;
  std::copy(init.begin() + initiation::kMac1, init.begin() + initiation::kMac2,
            mac1.begin());
  Cookie cookie;
  cookie.fill(0xAA);
  crypto::Bytes<24> nonce;
  nonce.fill(0xBB);
  std::vector<uint8_t> reply(cookie_reply::kSize);
  ASSERT_TRUE(WriteCookieReply(vectors::kIndexI, nonce, cookie, mac1,
                               responder_.cookie_key(), reply.data()));
  EXPECT_EQ(ToHex(reply), vectors::kCookieReply);

  CookieJar jar;
  const absl::Time now = absl::FromUnixSeconds(1000);
  RemoteIdentity remote(responder_.public_key());
  EXPECT_FALSE(jar.ConsumeReply(reply, vectors::kIndexI + 1, mac1,
                                remote.cookie_key, now));
  ASSERT_TRUE(
      jar.ConsumeReply(reply, vectors::kIndexI, mac1, remote.cookie_key, now));
  ASSERT_TRUE(jar.Current(now).has_value());
  EXPECT_EQ(*jar.Current(now), cookie);
  EXPECT_FALSE(jar.Current(now + kCookieRefreshTime).has_value());

  auto with_mac2 = init;
  WriteMacs(absl::MakeSpan(with_mac2), remote.mac1_key, cookie);
  EXPECT_EQ(ToHex(absl::MakeConstSpan(with_mac2).subspan(initiation::kMac2)),
            vectors::kInitMac2WithCookie);
}

TEST_F(NoiseVectorTest, TamperedInitiationFailsToOpen) {
  const auto good = FromHex(vectors::kInit);
  for (size_t at : {initiation::kEphemeral, initiation::kStatic,
                    initiation::kStatic + 47}) {
    auto bad = good;
    bad[at] ^= 1;
    InitiationContents contents;
    EXPECT_EQ(OpenInitiationStatic(responder_, bad, contents),
              HandshakeFailure::kDecryptFailed)
        << at;
  }
  auto bad = good;
  bad[initiation::kTimestamp + 3] ^= 1;
  InitiationContents contents;
  crypto::Tai64n ts;
  ASSERT_EQ(OpenInitiationStatic(responder_, bad, contents),
            HandshakeFailure::kNone);
  EXPECT_EQ(OpenInitiationTimestamp(responder_, bad, contents, ts),
            HandshakeFailure::kDecryptFailed);
  // An initiation for another responder does not open.
  LocalIdentity other(KeyFrom(0x99));
  EXPECT_EQ(OpenInitiationStatic(other, good, contents),
            HandshakeFailure::kDecryptFailed);
  EXPECT_EQ(OpenInitiationStatic(
                responder_, absl::MakeConstSpan(good).first(100), contents),
            HandshakeFailure::kDecryptFailed);
}

TEST_F(NoiseVectorTest, ForgedResponseLeavesPendingStateUsable) {
  std::optional<InitiatorState> state;
  Initiation(state);
  auto resp = FromHex(vectors::kRespSnap);
  auto forged = resp;
  forged[response::kSealed + 5] ^= 1;
  TransportKeys keys;
  std::optional<Endpoint> observed;
  EXPECT_EQ(
      OpenResponse(initiator_, *state, forged, Mode::kSnap, keys, observed),
      HandshakeFailure::kDecryptFailed);
  auto wrong_index = resp;
  wrong_index[response::kReceiverIndex] ^= 1;
  EXPECT_EQ(OpenResponse(initiator_, *state, wrong_index, Mode::kSnap, keys,
                         observed),
            HandshakeFailure::kDecryptFailed);
  // A WireGuard-sized response is refused by a SNAP-mode initiator.
  EXPECT_EQ(OpenResponse(initiator_, *state, FromHex(vectors::kResp),
                         Mode::kSnap, keys, observed),
            HandshakeFailure::kDecryptFailed);
  EXPECT_EQ(OpenResponse(initiator_, *state, resp, Mode::kSnap, keys, observed),
            HandshakeFailure::kNone);
}

TEST_F(NoiseVectorTest, IpSocketAddrDecodingIsStrict) {
  // OpenResponse fails a handshake with kAddressRejected when the sealed
  // address does not decode; these are the encodings it refuses.
  auto addr = EncodeIpSocketAddr(kObserved);
  addr[1] = 1;
  EXPECT_FALSE(DecodeIpSocketAddr(addr).has_value());
  addr[1] = 0;
  addr[0] = 5;
  EXPECT_FALSE(DecodeIpSocketAddr(addr).has_value());
  addr[0] = 4;
  addr[4] = 1;  // IPv4 with a non-zero leading byte.
  EXPECT_FALSE(DecodeIpSocketAddr(addr).has_value());
}

}  // namespace
}  // namespace snaptun::core
