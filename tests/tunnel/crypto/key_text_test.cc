// Keys as text: base64 of 32 bytes both ways, and a clear refusal of
// anything else.
#include "tunnel/crypto/key_text.h"

#include <cstdint>
#include <cstring>

#include "gtest/gtest.h"

namespace snaptun::crypto {
namespace {

TEST(KeyTextTest, RoundTripsThirtyTwoBytes) {
  uint8_t bytes[32];
  for (int i = 0; i < 32; ++i) bytes[i] = static_cast<uint8_t>(i * 7 + 1);
  const std::string text = EncodeKey(bytes);
  EXPECT_EQ(text.size(), 44u);
  EXPECT_EQ(text.back(), '=');
  absl::StatusOr<PrivateKey> key = DecodePrivateKey(text);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(std::memcmp(key->data(), bytes, 32), 0);
}

TEST(KeyTextTest, RefusesOtherLengthsAndNonBase64) {
  for (const char* text :
       {"", "AAAA", "not base64 at all!",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}) {
    absl::StatusOr<PrivateKey> key = DecodePrivateKey(text);
    EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

}  // namespace
}  // namespace snaptun::crypto
