// The tunnel lifecycle: distinct snake-case labels for every state and
// event, and the transitions both roles take.
#include "service/tunnel_lifecycle.h"

#include <set>

#include "gtest/gtest.h"
#include "tests/testing/labels.h"

namespace snaptun::service {
namespace {

using testing::IsSnakeCase;

TEST(TunnelLifecycleTest, LabelsAreDistinctAndSnakeCase) {
  std::set<absl::string_view> states;
  for (size_t i = 0; i < kTunnelStateCount; ++i) {
    const absl::string_view label =
        TunnelStateName(static_cast<TunnelState>(i));
    EXPECT_TRUE(IsSnakeCase(label)) << label;
    EXPECT_TRUE(states.insert(label).second) << label;
  }
  std::set<absl::string_view> events;
  for (size_t i = 0; i < kTunnelEventCount; ++i) {
    const absl::string_view label =
        TunnelEventName(static_cast<TunnelEvent>(i));
    EXPECT_TRUE(IsSnakeCase(label)) << label;
    EXPECT_TRUE(events.insert(label).second) << label;
  }
  EXPECT_EQ(TunnelStateName(static_cast<TunnelState>(kTunnelStateCount)),
            "unknown");
}

TEST(TunnelLifecycleTest, AHandshakeEstablishesOrRekeys) {
  for (TunnelState from :
       {TunnelState::kConnecting, TunnelState::kReconnecting}) {
    const Transition change = AfterHandshake(from);
    EXPECT_EQ(change.to, TunnelState::kEstablished);
    EXPECT_EQ(change.event, TunnelEvent::kEstablished);
  }
  const Transition rekey = AfterHandshake(TunnelState::kEstablished);
  EXPECT_EQ(rekey.to, TunnelState::kEstablished);
  EXPECT_EQ(rekey.event, TunnelEvent::kRekeyed);
}

TEST(TunnelLifecycleTest, LossReconnectsAndCloseCloses) {
  EXPECT_EQ(AfterSessionLost().to, TunnelState::kReconnecting);
  EXPECT_EQ(AfterSessionLost().event, TunnelEvent::kReconnecting);
  EXPECT_EQ(AfterClose().to, TunnelState::kClosed);
  EXPECT_EQ(AfterClose().event, TunnelEvent::kClosed);
}

TEST(TunnelLifecycleTest, EveryStateButClosedIsGauged) {
  EXPECT_TRUE(Gauged(TunnelState::kConnecting));
  EXPECT_TRUE(Gauged(TunnelState::kEstablished));
  EXPECT_TRUE(Gauged(TunnelState::kReconnecting));
  EXPECT_FALSE(Gauged(TunnelState::kClosed));
}

}  // namespace
}  // namespace snaptun::service
