// ChaCha20-Poly1305 against RFC 8439 §2.8.2, XChaCha20-Poly1305 and
// HChaCha20 against draft-irtf-cfrg-xchacha, and tamper/alias behaviour.
#include "tunnel/crypto/aead.h"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "tests/testing/hex.h"
#include "tunnel/crypto/endian.h"

namespace snaptun::crypto {
namespace {

using ::snaptun::testing::ArrayFromHex;
using ::snaptun::testing::FromHex;
using ::snaptun::testing::Sequence;
using ::snaptun::testing::ToHex;

constexpr std::string_view kSunscreen =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one "
    "tip for the future, sunscreen would be it.";

std::vector<uint8_t> SunscreenBytes() {
  return std::vector<uint8_t>(kSunscreen.begin(), kSunscreen.end());
}

SymmetricKey Key80() {
  SymmetricKey key;
  const auto seq = Sequence(0x80, 32);
  std::copy(seq.begin(), seq.end(), key.data());
  return key;
}

TEST(AeadTest, WireguardNonceKnownAnswer) {
  // RFC 8439 §2.8.2's key, AD and plaintext with WireGuard's nonce layout:
  // four zero bytes, then the counter little-endian (here the RFC's last 8
  // nonce bytes). Reference bytes from Python's `cryptography` with nonce
  // 000000004041424344454647. The RFC's exact nonce (07000000...) cannot be
  // expressed as a counter; the XChaCha draft vector below covers that
  // construction end to end.
  const uint64_t counter =
      LoadLittleEndian<uint64_t>(FromHex("4041424344454647").data());
  const auto ad = FromHex("50515253c0c1c2c3c4c5c6c7");
  const auto pt = SunscreenBytes();
  std::vector<uint8_t> ct(pt.size() + kAeadTagSize);
  AeadKey sealer(Key80(), AeadKey::Direction::kSeal);
  ASSERT_TRUE(sealer.Seal(counter, pt, ad, ct.data()));
  EXPECT_EQ(ToHex(absl::MakeConstSpan(ct).subspan(0, 32)),
            "a479cb54628946d6f4042a8e384ef4bd2fbc7330b8be55eb2d8dc18aaa51d66a");
  EXPECT_EQ(ToHex(absl::MakeConstSpan(ct).subspan(pt.size())),
            "2dbf189b668bd430aef9147e99cb6c89");
  std::vector<uint8_t> again(ct.size());
  ASSERT_TRUE(AeadSeal(Key80(), counter, pt, ad, again.data()));
  EXPECT_EQ(ct, again);
  std::vector<uint8_t> back(pt.size());
  ASSERT_TRUE(AeadOpen(Key80(), counter, ct, ad, back.data()));
  EXPECT_EQ(back, pt);
}

TEST(AeadTest, TamperedCiphertextOrTagOrAdIsRejected) {
  const auto pt = Sequence(0, 100);
  const auto ad = Sequence(7, 9);
  std::vector<uint8_t> ct(pt.size() + kAeadTagSize);
  AeadKey sealer(Key80(), AeadKey::Direction::kSeal);
  AeadKey opener(Key80(), AeadKey::Direction::kOpen);
  ASSERT_TRUE(sealer.Seal(5, pt, ad, ct.data()));
  std::vector<uint8_t> out(pt.size());
  ASSERT_TRUE(opener.Open(5, ct, ad, out.data()));
  EXPECT_EQ(out, pt);
  EXPECT_FALSE(opener.Open(6, ct, ad, out.data()));  // Wrong counter.
  EXPECT_FALSE(opener.Open(5, ct, {}, out.data()));  // Wrong AD.
  for (size_t i : {size_t{0}, size_t{50}, ct.size() - 1}) {
    auto bad = ct;
    bad[i] ^= 0x01;
    EXPECT_FALSE(opener.Open(5, bad, ad, out.data())) << "byte " << i;
  }
  EXPECT_FALSE(
      opener.Open(5, absl::MakeConstSpan(ct.data(), 15), ad, out.data()));
  // A key bound to sealing refuses to open and vice versa.
  EXPECT_FALSE(sealer.Open(5, ct, ad, out.data()));
  EXPECT_FALSE(opener.Seal(5, pt, ad, ct.data()));
}

TEST(AeadTest, InPlaceSealAndOpen) {
  std::vector<uint8_t> buf = Sequence(1, 64);
  buf.resize(64 + kAeadTagSize);
  AeadKey sealer(Key80(), AeadKey::Direction::kSeal);
  AeadKey opener(Key80(), AeadKey::Direction::kOpen);
  ASSERT_TRUE(
      sealer.Seal(9, absl::MakeConstSpan(buf.data(), 64), {}, buf.data()));
  ASSERT_TRUE(opener.Open(9, buf, {}, buf.data()));
  buf.resize(64);
  EXPECT_EQ(buf, Sequence(1, 64));
}

TEST(AeadTest, EmptyPlaintextIsTagOnly) {
  std::vector<uint8_t> tag(kAeadTagSize);
  ASSERT_TRUE(AeadSeal(SymmetricKey(), 0, {}, {}, tag.data()));
  EXPECT_EQ(ToHex(tag), "4eb972c9a8fb3a1b382bb4d36f5ffad1");
  EXPECT_TRUE(AeadOpen(SymmetricKey(), 0, tag, {}, nullptr));
}

TEST(XChaChaTest, HChaCha20DraftVector) {
  // draft-irtf-cfrg-xchacha-03 §2.2.1.
  SymmetricKey key;
  const auto seq = Sequence(0, 32);
  std::copy(seq.begin(), seq.end(), key.data());
  const auto nonce = ArrayFromHex<16>("000000090000004a0000000031415927");
  EXPECT_EQ(ToHex(HChaCha20(key, nonce).span()),
            "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc");
}

TEST(XChaChaTest, DraftAeadVectorTag) {
  // draft-irtf-cfrg-xchacha-03 Appendix A.3.1: key 80..9f, nonce 40..57.
  const auto nonce_v = Sequence(0x40, 24);
  Bytes<24> nonce;
  std::copy(nonce_v.begin(), nonce_v.end(), nonce.begin());
  const auto ad = FromHex("50515253c0c1c2c3c4c5c6c7");
  const auto pt = SunscreenBytes();
  std::vector<uint8_t> ct(pt.size() + kAeadTagSize);
  ASSERT_TRUE(XAeadSeal(Key80(), nonce, pt, ad, ct.data()));
  EXPECT_EQ(ToHex(absl::MakeConstSpan(ct).subspan(pt.size())),
            "c0875924c1c7987947deafd8780acf49");
  EXPECT_EQ(ToHex(absl::MakeConstSpan(ct).subspan(0, 8)), "bd6d179d3e83d43b");
  std::vector<uint8_t> back(pt.size());
  ASSERT_TRUE(XAeadOpen(Key80(), nonce, ct, ad, back.data()));
  EXPECT_EQ(back, pt);
  ct[3] ^= 0x80;
  EXPECT_FALSE(XAeadOpen(Key80(), nonce, ct, ad, back.data()));
}

}  // namespace
}  // namespace snaptun::crypto
