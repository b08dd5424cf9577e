// The session manager on a fake clock and the in-memory network: one
// daemon's manager, gateway and identity store, opening tunnels to itself,
// with every timer (connect timeouts, closed-tunnel retention) moved by the
// test and no datagram left to the kernel's timing.
//   - an unauthorized open fails DEADLINE_EXCEEDED (HANDSHAKE_TIMEOUT) when
//     its connect timeout falls due, not before;
//   - a closed tunnel is remembered for the retention, then forgotten;
//   - revoking an identity closes its gateway session (cause REVOKED) and
//     reports how many it closed; revoking an unknown one is NOT_FOUND;
//   - the drain closes every session with cause DRAIN.
#include "service/session_manager.h"

#include <memory>
#include <string>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "service/error_reason.h"
#include "service/gateway.h"
#include "service/identity_store.h"
#include "service/worker.h"
#include "tests/testing/keys.h"
#include "tests/testing/loop_turns.h"
#include "tunnel/io/clock.h"
#include "tunnel/io/memory_network.h"

namespace snaptun::service {
namespace {

const core::Endpoint kLoopback = core::Endpoint::Ipv4({127, 0, 0, 1}, 0);
constexpr absl::Duration kWait = absl::Seconds(10);  // Real time, a bound.

class SessionManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    limits_.closed_retention = absl::Minutes(5);
    limits_.client.network = &network_;
    sessions_ =
        std::make_unique<SessionManager>(pool_, identity_, limits_, nullptr);
    GatewayConfig config;
    config.listen = kLoopback;
    config.network = &network_;
    absl::StatusOr<std::unique_ptr<Gateway>> gateway =
        Gateway::Start(pool_, identity_, identities_, config, sessions_.get());
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = std::move(*gateway);
    sessions_->AttachGateway(gateway_.get(), &identities_);
  }
  void TearDown() override {
    if (sessions_ != nullptr) sessions_->CloseAll("test over");
    if (gateway_ != nullptr) gateway_->Stop();
    pool_.Stop();
  }

  // Moves the fake clock and lets both workers run what fell due.
  void Advance(absl::Duration by) {
    clock_.Advance(by);
    for (size_t i = 0; i < pool_.size(); ++i) {
      testing::FinishLoopTurns(pool_.at(i).loop());
    }
  }

  OpenParams ToSelf(const std::string& id) {
    OpenParams params;
    params.tunnel_id = id;
    params.peer_public_key = identity_.public_key();
    params.data_plane = gateway_->local_address();
    params.connect_timeout = absl::Seconds(10);
    return params;
  }

  // Starts an open; the result lands in `result` and `done` is notified.
  struct PendingOpen {
    absl::Notification done;
    absl::StatusOr<TunnelSnapshot> result = absl::UnknownError("pending");
  };
  std::shared_ptr<PendingOpen> StartOpen(const std::string& id) {
    return StartOpen(ToSelf(id));
  }
  std::shared_ptr<PendingOpen> StartOpen(OpenParams params) {
    auto pending = std::make_shared<PendingOpen>();
    sessions_->Open(std::move(params),
                    [pending](absl::StatusOr<TunnelSnapshot> r) {
                      pending->result = std::move(r);
                      pending->done.Notify();
                    });
    // The tunnel starts on its worker, arming its timers from the clock's
    // present: let it, before the test moves the clock.
    Advance(absl::ZeroDuration());
    return pending;
  }

  void GrantSelf(absl::Duration ttl = absl::InfiniteDuration()) {
    const absl::Time now = sessions_->Now();
    ASSERT_TRUE(sessions_
                    ->GrantIdentity(identity_.public_key(), now,
                                    ttl == absl::InfiniteDuration()
                                        ? absl::InfiniteFuture()
                                        : now + ttl)
                    .ok());
  }

  // Opens `id` to self and waits (real time, bounded) until it is
  // established.
  void OpenEstablished(const std::string& id) {
    std::shared_ptr<PendingOpen> open = StartOpen(id);
    ASSERT_TRUE(open->done.WaitForNotificationWithTimeout(kWait));
    ASSERT_TRUE(open->result.ok()) << open->result.status();
    EXPECT_EQ(open->result->state, SessionState::kEstablished);
  }

  // Revokes `key` and waits (real time, bounded) for the answer.
  absl::StatusOr<size_t> Revoke(const crypto::PublicKey& key) {
    struct Answer {
      absl::Notification done;
      absl::StatusOr<size_t> result = absl::UnknownError("pending");
    };
    // Shared with the callback, which may outlive a wait that gave up.
    auto answer = std::make_shared<Answer>();
    sessions_->RevokeIdentity(key, [answer](absl::StatusOr<size_t> result) {
      answer->result = std::move(result);
      answer->done.Notify();
    });
    if (!answer->done.WaitForNotificationWithTimeout(kWait)) {
      return absl::DeadlineExceededError("no answer to the revocation");
    }
    return answer->result;
  }

  // The gateway side of the tunnels opened to self, waiting (real time) for
  // `count` of them.
  std::vector<TunnelSnapshot> GatewaySessions(size_t count) {
    ListFilter filter;
    filter.role = Role::kGateway;
    const absl::Time deadline = absl::Now() + kWait;
    for (;;) {
      absl::StatusOr<ListPage> page = sessions_->List(filter, 100, "");
      if ((page.ok() && page->tunnels.size() >= count) ||
          absl::Now() > deadline) {
        return page.ok() ? page->tunnels : std::vector<TunnelSnapshot>{};
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
  }

  // Declared first: the tunnels' configs name it, and a tunnel opens a
  // channel on it at every reconnect until the workers stop.
  io::MemoryNetwork network_;
  io::FakeClock clock_;
  WorkerPool pool_{clock_, 2};
  core::LocalIdentity identity_{testing::FilledKey(3)};
  IdentityStore identities_{1000, &identity_};
  SessionLimits limits_;
  std::unique_ptr<SessionManager> sessions_;
  std::unique_ptr<Gateway> gateway_;
};

TEST_F(SessionManagerTest, UnauthorizedOpenTimesOutWhenItsTimeoutFallsDue) {
  std::shared_ptr<PendingOpen> open = StartOpen("nobody-lets-me-in");
  Advance(absl::Seconds(9));
  EXPECT_FALSE(open->done.HasBeenNotified());
  Advance(absl::Seconds(2));
  ASSERT_TRUE(open->done.WaitForNotificationWithTimeout(kWait));
  EXPECT_EQ(open->result.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(ReasonOf(open->result.status()), reason::kHandshakeTimeout);
  absl::StatusOr<TunnelSnapshot> closed = sessions_->Get("nobody-lets-me-in");
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(closed->state, SessionState::kClosed);
  EXPECT_EQ(closed->close_cause, CloseCause::kHandshakeTimeout);
}

TEST_F(SessionManagerTest, ClosedTunnelsAreRememberedForTheRetentionOnly) {
  GrantSelf();
  ASSERT_NO_FATAL_FAILURE(OpenEstablished("short-lived"));
  ASSERT_TRUE(sessions_->Close("short-lived", "done with it").ok());
  Advance(limits_.closed_retention - absl::Seconds(1));
  absl::StatusOr<TunnelSnapshot> remembered = sessions_->Get("short-lived");
  ASSERT_TRUE(remembered.ok()) << remembered.status();
  EXPECT_EQ(remembered->close_cause, CloseCause::kApi);
  EXPECT_EQ(remembered->close_reason, "done with it");
  Advance(absl::Seconds(2));
  EXPECT_EQ(sessions_->Get("short-lived").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(SessionManagerTest, RevocationClosesTheIdentitysGatewaySessions) {
  GrantSelf();
  ASSERT_NO_FATAL_FAILURE(OpenEstablished("to-revoke"));
  const std::vector<TunnelSnapshot> gateway_side = GatewaySessions(1);
  ASSERT_EQ(gateway_side.size(), 1u);
  const absl::StatusOr<size_t> closed = Revoke(identity_.public_key());
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(*closed, 1u);
  absl::StatusOr<TunnelSnapshot> gone =
      sessions_->Get(gateway_side[0].tunnel_id);
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_EQ(gone->state, SessionState::kClosed);
  EXPECT_EQ(gone->close_cause, CloseCause::kRevoked);

  const absl::StatusOr<size_t> unknown = Revoke(crypto::PublicKey{});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReasonOf(unknown.status()), reason::kIdentityNotAuthorized);
}

TEST_F(SessionManagerTest, DrainClosesEverySessionWithCauseDrain) {
  GrantSelf();
  ASSERT_NO_FATAL_FAILURE(OpenEstablished("drained"));
  const std::vector<TunnelSnapshot> gateway_side = GatewaySessions(1);
  ASSERT_EQ(gateway_side.size(), 1u);
  // An open still handshaking when the drain comes (its peer key is not
  // the gateway's, so it never completes) is cancelled.
  OpenParams wrong_key = ToSelf("late");
  wrong_key.peer_public_key =
      core::LocalIdentity(testing::FilledKey(7)).public_key();
  std::shared_ptr<PendingOpen> late = StartOpen(wrong_key);
  sessions_->CloseAll("shutting down");
  ASSERT_TRUE(late->done.WaitForNotificationWithTimeout(kWait));
  EXPECT_EQ(late->result.status().code(), absl::StatusCode::kCancelled);
  for (const std::string& id :
       {std::string("drained"), gateway_side[0].tunnel_id}) {
    absl::StatusOr<TunnelSnapshot> closed = sessions_->Get(id);
    ASSERT_TRUE(closed.ok()) << id << ": " << closed.status();
    EXPECT_EQ(closed->close_cause, CloseCause::kDrain) << id;
  }
  EXPECT_EQ(sessions_->size(), 0u);
}

}  // namespace
}  // namespace snaptun::service
