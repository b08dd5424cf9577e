// The verdict lists: every drop reason and handshake failure has a distinct
// label of the form Prometheus label values take here, the operator's guide
// explains each one, and a failed handshake maps to the drop it counts as.
// With the api_test check that DropCounters has exactly these fields, this is
// the test a new reason needs besides one that makes the drop happen.
#include "tunnel/core/verdict.h"

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/labels.h"

namespace snaptun::core {
namespace {

using testing::IsSnakeCase;

std::string OperationsGuide() {
  std::ifstream in("docs/OPERATIONS.md");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(VerdictTest, DropReasonLabelsAreDistinctSnakeCaseAndDocumented) {
  const std::string guide = OperationsGuide();
  ASSERT_FALSE(guide.empty());
  EXPECT_EQ(DropReasonName(DropReason::kNone), "none");
  std::set<absl::string_view> seen;
  for (size_t i = 1; i < kDropReasonCount; ++i) {
    const absl::string_view label = DropReasonName(static_cast<DropReason>(i));
    EXPECT_TRUE(IsSnakeCase(label)) << label;
    EXPECT_NE(label, "none");
    EXPECT_TRUE(seen.insert(label).second) << label << " twice";
    EXPECT_NE(guide.find(absl::StrCat("`", label, "`")), std::string::npos)
        << label << " is not explained in docs/OPERATIONS.md";
  }
  EXPECT_EQ(DropReasonName(DropReason::kCount), "unknown");
}

TEST(VerdictTest, HandshakeFailureLabelsAreDistinctSnakeCaseAndDocumented) {
  const std::string guide = OperationsGuide();
  std::set<absl::string_view> seen;
  for (size_t i = 1; i < kHandshakeFailureCount; ++i) {
    const absl::string_view label =
        HandshakeFailureName(static_cast<HandshakeFailure>(i));
    EXPECT_TRUE(IsSnakeCase(label)) << label;
    EXPECT_TRUE(seen.insert(label).second) << label << " twice";
    EXPECT_NE(guide.find(absl::StrCat("`", label, "`")), std::string::npos)
        << label << " is not explained in docs/OPERATIONS.md";
  }
  EXPECT_EQ(HandshakeFailureName(HandshakeFailure::kCount), "unknown");
}

TEST(VerdictTest, AFailedHandshakeCountsAsItsDrop) {
  EXPECT_EQ(DropReasonFor(HandshakeFailure::kNone), DropReason::kNone);
  EXPECT_EQ(DropReasonFor(HandshakeFailure::kUnauthorized),
            DropReason::kUnauthorized);
  EXPECT_EQ(DropReasonFor(HandshakeFailure::kDecryptFailed),
            DropReason::kDecryptFailed);
  EXPECT_EQ(DropReasonFor(HandshakeFailure::kRateLimited),
            DropReason::kRateLimited);
  EXPECT_EQ(DropReasonFor(HandshakeFailure::kStaleTimestamp),
            DropReason::kReplay);
  EXPECT_EQ(DropReasonFor(HandshakeFailure::kTimeout),
            DropReason::kInvalidPacket);
  EXPECT_EQ(DropReasonFor(HandshakeFailure::kInvalidMac),
            DropReason::kInvalidPacket);
  EXPECT_EQ(DropReasonFor(HandshakeFailure::kAddressRejected),
            DropReason::kInvalidPacket);
  EXPECT_EQ(DropReasonFor(HandshakeFailure::kCount),
            DropReason::kInvalidPacket);
}

}  // namespace
}  // namespace snaptun::core
