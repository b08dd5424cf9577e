// X25519 against RFC 7748 §5.2 and §6.1, and the rejection of low-order
// points (all-zero shared secrets) that WireGuard requires.
#include "tunnel/crypto/x25519.h"

#include <gtest/gtest.h>

#include "tests/testing/hex.h"

namespace snaptun::crypto {
namespace {

using ::snaptun::testing::ArrayFromHex;
using ::snaptun::testing::ToHex;

TEST(X25519Test, Rfc7748DiffieHellman) {
  const auto alice = X25519KeyPair::FromPrivateKey(PrivateKey(ArrayFromHex<32>(
      "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")));
  const auto bob = X25519KeyPair::FromPrivateKey(PrivateKey(ArrayFromHex<32>(
      "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")));
  const PublicKey alice_pub = alice.public_key();
  const PublicKey bob_pub = bob.public_key();
  EXPECT_EQ(ToHex(alice_pub),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT_EQ(ToHex(bob_pub),
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  SymmetricKey ab, ba;
  ASSERT_TRUE(alice.Agree(bob_pub, ab));
  ASSERT_TRUE(bob.Agree(alice_pub, ba));
  EXPECT_EQ(ToHex(ab.span()),
            "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  EXPECT_EQ(ab.bytes(), ba.bytes());
}

TEST(X25519Test, Rfc7748ScalarMultVector) {
  // RFC 7748 §5.2, first vector.
  const auto scalar = X25519KeyPair::FromPrivateKey(PrivateKey(ArrayFromHex<32>(
      "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4")));
  const PublicKey u = ArrayFromHex<32>(
      "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
  SymmetricKey out;
  ASSERT_TRUE(scalar.Agree(u, out));
  EXPECT_EQ(ToHex(out.span()),
            "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
}

TEST(X25519Test, RejectsLowOrderPoints) {
  const auto key = X25519KeyPair::FromPrivateKey(PrivateKey(ArrayFromHex<32>(
      "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")));
  PublicKey zero{};
  PublicKey one{};
  one[0] = 1;
  SymmetricKey out;
  EXPECT_FALSE(key.Agree(zero, out));
  EXPECT_TRUE(IsAllZero(out.span()));
  EXPECT_FALSE(key.Agree(one, out));
}

TEST(X25519Test, MovedFromPairRefusesToAgree) {
  auto a = X25519KeyPair::FromPrivateKey(PrivateKey());
  X25519KeyPair b = std::move(a);
  SymmetricKey out;
  EXPECT_TRUE(b.Agree(b.public_key(), out));
  EXPECT_FALSE(
      a.Agree(b.public_key(), out));  // NOLINT(bugprone-use-after-move)
}

}  // namespace
}  // namespace snaptun::crypto
