// The per-tunnel state machine on a fake clock: handshake and key
// confirmation, data both ways, every timer, replay and flood protection,
// cookies, and refused handshake messages. Two Peer objects talk through
// vectors of datagrams; nothing touches a socket or the real clock.
#include "tunnel/core/peer.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "tests/testing/fake_random.h"
#include "tests/testing/keys.h"
#include "tunnel/core/cookie.h"
#include "tunnel/core/ip_socket_addr.h"
#include "tunnel/core/noise.h"
#include "tunnel/core/timers.h"

namespace snaptun::core {
namespace {

using ::snaptun::testing::FakeRandom;

constexpr auto Key = ::snaptun::testing::FilledKey;

std::vector<uint8_t> Bytes(const std::string& s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

const Endpoint kClientAddr = Endpoint::Ipv4({192, 0, 2, 7}, 40000);
const Endpoint kServerAddr = Endpoint::Ipv4({198, 18, 0, 1}, 51820);

bool HasEvent(const PeerOutput& out, PeerEventType type) {
  for (const PeerEvent& e : out.events) {
    if (e.type == type) return true;
  }
  return false;
}

class PeerTest : public ::testing::Test {
 protected:
  void SetUpPeers(Mode mode,
                  absl::Duration client_keepalive = absl::ZeroDuration()) {
    PeerConfig client_config{mode, client_keepalive, 4};
    PeerConfig server_config{mode, absl::ZeroDuration(), 4};
    client_ = std::make_unique<Peer>(client_id_, server_id_.public_key(),
                                     client_config, client_rng_);
    server_ = std::make_unique<Peer>(server_id_, client_id_.public_key(),
                                     server_config, server_rng_);
  }

  void SetUp() override { SetUpPeers(Mode::kSnap); }

  // Delivers every datagram in `from_out` to `to`, collecting its output.
  std::vector<ReceiveResult> Deliver(PeerOutput& from_out, Peer& to,
                                     const Endpoint& from_addr,
                                     PeerOutput& to_out, Mode mode) {
    std::vector<ReceiveResult> results;
    auto datagrams = std::move(from_out.to_network);
    from_out.to_network.clear();
    for (auto& d : datagrams) {
      auto type = Classify(d, mode);
      EXPECT_TRUE(type.has_value());
      if (!type) continue;
      held_.push_back(std::move(d));
      results.push_back(to.Receive(now_, *type, absl::MakeSpan(held_.back()),
                                   from_addr, to_out));
    }
    return results;
  }

  // Runs a full handshake with confirmation; returns after both sides have
  // a current session.
  void Establish(Mode mode = Mode::kSnap) {
    client_->Connect(now_, c_out_);
    ASSERT_EQ(c_out_.to_network.size(), 1u);
    ASSERT_EQ(c_out_.to_network[0].size(), initiation::kSize);
    Deliver(c_out_, *server_, kClientAddr, s_out_, mode);
    ASSERT_EQ(s_out_.to_network.size(), 1u);
    ASSERT_EQ(s_out_.to_network[0].size(), response::Size(mode));
    EXPECT_FALSE(server_->Established(now_));  // Not before confirmation.
    Deliver(s_out_, *client_, kServerAddr, c_out_, mode);
    EXPECT_TRUE(client_->Established(now_));
    EXPECT_TRUE(HasEvent(c_out_, PeerEventType::kHandshakeCompleted));
    ASSERT_EQ(c_out_.to_network.size(), 1u);  // The confirming keepalive.
    EXPECT_EQ(c_out_.to_network[0].size(), transport::kMinSize);
    auto r = Deliver(c_out_, *server_, kClientAddr, s_out_, mode);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].kind, ReceiveResult::Kind::kKeepalive);
    EXPECT_TRUE(server_->Established(now_));
    EXPECT_TRUE(HasEvent(s_out_, PeerEventType::kHandshakeCompleted));
    c_out_.Clear();
    s_out_.Clear();
  }

  // Seals `payload` on `from` and delivers it to `to`.
  ReceiveResult SendOne(Peer& from, Peer& to, const std::string& payload,
                        const Endpoint& from_addr, Mode mode = Mode::kSnap) {
    std::vector<uint8_t> buf(Peer::SealedSize(payload.size(), mode));
    PeerOutput out;
    const auto p = Bytes(payload);
    SendResult sent = from.Send(now_, p, absl::MakeSpan(buf), out);
    EXPECT_EQ(sent.status, SendOutcome::kSent);
    buf.resize(sent.size);
    last_datagram_ = buf;
    PeerOutput to_out;
    auto type = Classify(buf, mode);
    EXPECT_EQ(type, MessageType::kTransport);
    // The payload points into the datagram, so the datagram must outlive
    // the result.
    held_.push_back(std::move(buf));
    return to.Receive(now_, *type, absl::MakeSpan(held_.back()), from_addr,
                      to_out);
  }

  absl::Time now_ = absl::FromUnixSeconds(1767225600);
  FakeRandom client_rng_{1};
  FakeRandom server_rng_{2};
  LocalIdentity client_id_{Key(0x11)};
  LocalIdentity server_id_{Key(0x22)};
  std::unique_ptr<Peer> client_;
  std::unique_ptr<Peer> server_;
  PeerOutput c_out_;
  PeerOutput s_out_;
  std::vector<uint8_t> last_datagram_;
  std::deque<std::vector<uint8_t>> held_;
};

TEST_F(PeerTest, HandshakeTeachesClientItsObservedAddress) {
  Establish();
  ASSERT_TRUE(client_->observed_address().has_value());
  EXPECT_EQ(*client_->observed_address(), kClientAddr);
}

TEST_F(PeerTest, DataFlowsBothWays) {
  Establish();
  ReceiveResult up = SendOne(*client_, *server_, "scion-up", kClientAddr);
  ASSERT_EQ(up.kind, ReceiveResult::Kind::kData);
  EXPECT_EQ(std::string(up.payload.begin(), up.payload.end()), "scion-up");
  ReceiveResult down = SendOne(*server_, *client_, "scion-down", kServerAddr);
  ASSERT_EQ(down.kind, ReceiveResult::Kind::kData);
  EXPECT_EQ(std::string(down.payload.begin(), down.payload.end()),
            "scion-down");
  // SNAP mode does not pad: 10 bytes + 32 overhead.
  EXPECT_EQ(last_datagram_.size(), 42u);
}

TEST_F(PeerTest, WireGuardModePadsAndTrimsIpPackets) {
  SetUpPeers(Mode::kWireGuard);
  Establish(Mode::kWireGuard);
  // A 21-byte IPv4 packet (total length 21) pads to 32 on the wire.
  std::string ip(21, '\0');
  ip[0] = 0x45;
  ip[3] = 21;
  ReceiveResult r =
      SendOne(*client_, *server_, ip, kClientAddr, Mode::kWireGuard);
  ASSERT_EQ(r.kind, ReceiveResult::Kind::kData);
  EXPECT_EQ(last_datagram_.size(), 32u + 32u);
  EXPECT_EQ(r.payload.size(), 21u);
  EXPECT_FALSE(client_->observed_address().has_value());
}

TEST_F(PeerTest, ResponderQueuesUntilConfirmedThenFlushes) {
  client_->Connect(now_, c_out_);
  Deliver(c_out_, *server_, kClientAddr, s_out_, Mode::kSnap);
  ASSERT_EQ(s_out_.to_network.size(), 1u);  // The response.
  std::vector<uint8_t> buf(64);
  PeerOutput out;
  const auto p = Bytes("early");
  SendResult r = server_->Send(now_, p, absl::MakeSpan(buf), out);
  EXPECT_EQ(r.status, SendOutcome::kQueued);
  EXPECT_TRUE(out.to_network.empty());  // No crossing initiation.
  EXPECT_EQ(server_->queued(), 1u);

  Deliver(s_out_, *client_, kServerAddr, c_out_, Mode::kSnap);
  Deliver(c_out_, *server_, kClientAddr, s_out_, Mode::kSnap);
  // Confirmation flushed the queued payload.
  ASSERT_EQ(s_out_.to_network.size(), 1u);
  EXPECT_EQ(server_->queued(), 0u);
  PeerOutput unused;
  auto results = Deliver(s_out_, *client_, kServerAddr, unused, Mode::kSnap);
  ASSERT_EQ(results.size(), 1u);
  ASSERT_EQ(results[0].kind, ReceiveResult::Kind::kData);
  EXPECT_EQ(std::string(results[0].payload.begin(), results[0].payload.end()),
            "early");
}

TEST_F(PeerTest, ClientQueuesBeforeHandshakeAndDropsOldestWhenFull) {
  std::vector<uint8_t> buf(64);
  for (int i = 0; i < 6; ++i) {
    const auto p = Bytes("p" + std::to_string(i));
    SendResult r = client_->Send(now_, p, absl::MakeSpan(buf), c_out_);
    EXPECT_EQ(r.status, SendOutcome::kQueued);
  }
  // Capacity 4: two oldest dropped and counted; one initiation sent.
  EXPECT_EQ(client_->queued(), 4u);
  EXPECT_EQ(c_out_.drops[static_cast<size_t>(DropReason::kHandshakeQueueFull)],
            2u);
  EXPECT_EQ(c_out_.to_network.size(), 1u);
  c_out_.Clear();
  client_->Connect(now_, c_out_);
  EXPECT_TRUE(c_out_.to_network.empty());  // Already in flight.
}

TEST_F(PeerTest, OversizePayloadIsDropped) {
  Establish();
  std::vector<uint8_t> huge(kMaxDatagramSize);
  std::vector<uint8_t> buf(kMaxDatagramSize + 64);
  SendResult r = client_->Send(now_, huge, absl::MakeSpan(buf), c_out_);
  EXPECT_EQ(r.status, SendOutcome::kDropped);
  EXPECT_EQ(r.drop, DropReason::kOversize);
  const auto small = Bytes("x");
  std::vector<uint8_t> tiny(8);
  r = client_->Send(now_, small, absl::MakeSpan(tiny), c_out_);
  EXPECT_EQ(r.drop, DropReason::kOversize);
}

TEST_F(PeerTest, RetransmitsWithJitterThenGivesUpAfterRekeyAttemptTime) {
  std::vector<uint8_t> buf(64);
  const auto p = Bytes("lost");
  client_->Send(now_, p, absl::MakeSpan(buf), c_out_);
  ASSERT_EQ(c_out_.to_network.size(), 1u);
  const absl::Time started = now_;
  absl::Time deadline = client_->NextDeadline();
  EXPECT_GE(deadline, started + kRekeyTimeout);
  EXPECT_LE(deadline, started + kRekeyTimeout + kRekeyTimeoutJitter);
  int initiations = 1;
  while (true) {
    c_out_.Clear();
    now_ = client_->NextDeadline();
    ASSERT_LT(now_, started + absl::Seconds(100));
    client_->OnTimer(now_, c_out_);
    if (HasEvent(c_out_, PeerEventType::kExpired)) break;
    ASSERT_EQ(c_out_.to_network.size(), 1u);
    EXPECT_EQ(c_out_.to_network[0][0], 1);  // An initiation.
    ++initiations;
  }
  EXPECT_EQ(now_, started + kRekeyAttemptTime);
  // 90 s / (5 s + up to 333 ms) retransmissions plus the first.
  EXPECT_GE(initiations, 17);
  EXPECT_LE(initiations, 18);
  EXPECT_EQ(c_out_.drops[static_cast<size_t>(DropReason::kNoTunnel)], 1u);
  EXPECT_EQ(client_->queued(), 0u);
  EXPECT_TRUE(client_->Dead(now_));
  EXPECT_EQ(client_->NextDeadline(), absl::InfiniteFuture());
}

TEST_F(PeerTest, ReplayedDataIsDropped) {
  Establish();
  ASSERT_EQ(SendOne(*client_, *server_, "once", kClientAddr).kind,
            ReceiveResult::Kind::kData);
  // The datagram was decrypted in place; re-seal a copy to replay: resend
  // the original bytes captured before delivery.
  std::vector<uint8_t> buf(64);
  PeerOutput out;
  const auto p = Bytes("twice");
  SendResult r = client_->Send(now_, p, absl::MakeSpan(buf), out);
  buf.resize(r.size);
  auto copy = buf;
  PeerOutput s;
  EXPECT_EQ(server_
                ->Receive(now_, MessageType::kTransport, absl::MakeSpan(buf),
                          kClientAddr, s)
                .kind,
            ReceiveResult::Kind::kData);
  ReceiveResult again = server_->Receive(now_, MessageType::kTransport,
                                         absl::MakeSpan(copy), kClientAddr, s);
  EXPECT_EQ(again.kind, ReceiveResult::Kind::kDropped);
  EXPECT_EQ(again.drop, DropReason::kReplay);
}

TEST_F(PeerTest, TamperedOrUnknownIndexDataIsDropped) {
  Establish();
  std::vector<uint8_t> buf(64);
  PeerOutput out;
  const auto p = Bytes("data");
  SendResult r = client_->Send(now_, p, absl::MakeSpan(buf), out);
  buf.resize(r.size);
  auto tampered = buf;
  tampered[20] ^= 1;
  PeerOutput s;
  ReceiveResult res = server_->Receive(
      now_, MessageType::kTransport, absl::MakeSpan(tampered), kClientAddr, s);
  EXPECT_EQ(res.drop, DropReason::kDecryptFailed);
  auto unknown = buf;
  unknown[4] ^= 0xff;
  res = server_->Receive(now_, MessageType::kTransport, absl::MakeSpan(unknown),
                         kClientAddr, s);
  EXPECT_EQ(res.drop, DropReason::kDecryptFailed);
  // The untouched original still decrypts: failed packets moved nothing.
  res = server_->Receive(now_, MessageType::kTransport, absl::MakeSpan(buf),
                         kClientAddr, s);
  EXPECT_EQ(res.kind, ReceiveResult::Kind::kData);
}

TEST_F(PeerTest, ReplayedInitiationIsStale) {
  client_->Connect(now_, c_out_);
  auto init = c_out_.to_network[0];
  Deliver(c_out_, *server_, kClientAddr, s_out_, Mode::kSnap);
  now_ += absl::Seconds(1);
  PeerOutput s;
  ReceiveResult r = server_->Receive(now_, MessageType::kInitiation,
                                     absl::MakeSpan(init), kClientAddr, s);
  EXPECT_EQ(r.failure, HandshakeFailure::kStaleTimestamp);
  EXPECT_EQ(r.drop, DropReason::kReplay);
  EXPECT_TRUE(s.to_network.empty());
}

TEST_F(PeerTest, InitiationFloodIsRateLimited) {
  client_->Connect(now_, c_out_);
  Deliver(c_out_, *server_, kClientAddr, s_out_, Mode::kSnap);
  s_out_.Clear();
  // A newer initiation (client clock 1 s later) reaching the server 10 ms
  // after the previous one.
  Peer second(client_id_, server_id_.public_key(), PeerConfig{}, client_rng_);
  PeerOutput out;
  second.Connect(now_ + absl::Seconds(1), out);
  const absl::Time server_now = now_ + absl::Milliseconds(10);
  ReceiveResult r =
      server_->Receive(server_now, MessageType::kInitiation,
                       absl::MakeSpan(out.to_network[0]), kClientAddr, s_out_);
  EXPECT_EQ(r.failure, HandshakeFailure::kRateLimited);
  r = server_->Receive(server_now + absl::Milliseconds(20),
                       MessageType::kInitiation,
                       absl::MakeSpan(out.to_network[0]), kClientAddr, s_out_);
  EXPECT_EQ(r.kind, ReceiveResult::Kind::kHandshake);
}

TEST_F(PeerTest, InitiationWithWrongMac1OrWrongKeyIsRefused) {
  client_->Connect(now_, c_out_);
  auto init = c_out_.to_network[0];
  auto bad_mac = init;
  bad_mac[initiation::kMac1] ^= 1;
  PeerOutput s;
  ReceiveResult r = server_->Receive(now_, MessageType::kInitiation,
                                     absl::MakeSpan(bad_mac), kClientAddr, s);
  EXPECT_EQ(r.failure, HandshakeFailure::kInvalidMac);
  // A third party with a different static key, addressed to the server.
  LocalIdentity stranger(Key(0x33));
  FakeRandom rng(9);
  Peer impostor(stranger, server_id_.public_key(), PeerConfig{}, rng);
  PeerOutput o;
  impostor.Connect(now_, o);
  r = server_->Receive(now_, MessageType::kInitiation,
                       absl::MakeSpan(o.to_network[0]), kClientAddr, s);
  EXPECT_EQ(r.failure, HandshakeFailure::kUnauthorized);
  EXPECT_TRUE(s.to_network.empty());
}

TEST_F(PeerTest, UnexpectedOrForgedResponseIsDropped) {
  Establish();
  now_ += absl::Seconds(6);
  client_->Connect(now_, c_out_);
  Deliver(c_out_, *server_, kClientAddr, s_out_, Mode::kSnap);
  ASSERT_EQ(s_out_.to_network.size(), 1u);
  auto resp = s_out_.to_network[0];
  auto forged = resp;
  forged[response::kSealed] ^= 1;
  // Re-MAC so the forgery passes mac1 and reaches the AEAD.
  WriteMacs(absl::MakeSpan(forged),
            RemoteIdentity(client_id_.public_key()).mac1_key, std::nullopt);
  PeerOutput c;
  ReceiveResult r = client_->Receive(now_, MessageType::kResponse,
                                     absl::MakeSpan(forged), kServerAddr, c);
  EXPECT_EQ(r.failure, HandshakeFailure::kDecryptFailed);
  EXPECT_TRUE(client_->handshake_pending());  // Not cancelled by a forgery.
  r = client_->Receive(now_, MessageType::kResponse, absl::MakeSpan(resp),
                       kServerAddr, c);
  EXPECT_EQ(r.kind, ReceiveResult::Kind::kHandshake);
  // The same response again, with no handshake in flight any more.
  auto again = resp;
  r = client_->Receive(now_, MessageType::kResponse, absl::MakeSpan(again),
                       kServerAddr, c);
  EXPECT_EQ(r.drop, DropReason::kInvalidPacket);
}

TEST_F(PeerTest, PassiveKeepaliveAfterReceivingDataOnly) {
  Establish();
  ASSERT_EQ(SendOne(*client_, *server_, "hello", kClientAddr).kind,
            ReceiveResult::Kind::kData);
  EXPECT_EQ(server_->NextDeadline(), now_ + kKeepaliveTimeout);
  now_ += kKeepaliveTimeout;
  server_->OnTimer(now_, s_out_);
  ASSERT_EQ(s_out_.to_network.size(), 1u);
  EXPECT_EQ(s_out_.to_network[0].size(), transport::kMinSize);
  // The client receiving a keepalive does not answer it (no ping-pong).
  Deliver(s_out_, *client_, kServerAddr, c_out_, Mode::kSnap);
  now_ += kKeepaliveTimeout;
  c_out_.Clear();
  client_->OnTimer(now_, c_out_);
  EXPECT_TRUE(c_out_.to_network.empty());
}

TEST_F(PeerTest, PersistentKeepaliveWhenIdle) {
  // WireGuard mode: a keepalive is only a keepalive.
  SetUpPeers(Mode::kWireGuard, absl::Seconds(10));
  Establish(Mode::kWireGuard);
  EXPECT_EQ(client_->NextDeadline(), now_ + absl::Seconds(10));
  now_ += absl::Seconds(10);
  client_->OnTimer(now_, c_out_);
  ASSERT_EQ(c_out_.to_network.size(), 1u);
  EXPECT_EQ(c_out_.to_network[0].size(), transport::kMinSize);
  EXPECT_EQ(client_->NextDeadline(), now_ + absl::Seconds(10));
  // Nor does a WireGuard responder answer one.
  Deliver(c_out_, *server_, kClientAddr, s_out_, Mode::kWireGuard);
  now_ += kKeepaliveTimeout;
  server_->OnTimer(now_, s_out_);
  EXPECT_TRUE(s_out_.to_network.empty());
}

TEST_F(PeerTest, IdleSnapTunnelStaysQuietWhileTheGatewayAnswersKeepalives) {
  // W27: keepalives probe liveness in SNAP mode. The gateway answers each
  // of the client's keepalives once, so an idle tunnel exchanges one
  // keepalive each way per 20 s and hands shakes only to rekey.
  SetUpPeers(Mode::kSnap, absl::Seconds(10));
  Establish();
  int initiations = 0;
  int sent_by_client = 0;
  int sent_by_server = 0;
  const absl::Time end = now_ + absl::Minutes(5);
  while (now_ < end) {
    now_ = std::min(client_->NextDeadline(), server_->NextDeadline());
    client_->OnTimer(now_, c_out_);
    server_->OnTimer(now_, s_out_);
    for (const auto& d : c_out_.to_network) {
      initiations += d[0] == 1;
      sent_by_client += d[0] == 4;
    }
    sent_by_server += static_cast<int>(s_out_.to_network.size());
    Deliver(c_out_, *server_, kClientAddr, s_out_, Mode::kSnap);
    Deliver(s_out_, *client_, kServerAddr, c_out_, Mode::kSnap);
    Deliver(c_out_, *server_, kClientAddr, s_out_, Mode::kSnap);
    c_out_.Clear();
    s_out_.Clear();
  }
  EXPECT_TRUE(client_->Established(now_));
  // Rekeys only: every 120 s, not every 25 s.
  EXPECT_LE(initiations, 3);
  EXPECT_GE(sent_by_client, 10);
  EXPECT_GE(sent_by_server, 10);
}

TEST_F(PeerTest, IdleSnapClientNoticesADeadGatewayWithinTheBound) {
  // The gateway goes silent right after the handshake. The client's next
  // keepalive (10 s) arms the no-reply rule (15 s + jitter): a new
  // handshake starts within 25.4 s, and the tunnel expires 90 s later,
  // not at the 120 s rekey plus 90 s.
  SetUpPeers(Mode::kSnap, absl::Seconds(10));
  Establish();
  const absl::Time silent_since = now_;
  absl::Time first_initiation = absl::InfiniteFuture();
  absl::Time expired = absl::InfiniteFuture();
  while (expired == absl::InfiniteFuture() &&
         now_ < silent_since + absl::Minutes(5)) {
    now_ = client_->NextDeadline();
    client_->OnTimer(now_, c_out_);
    for (const auto& d : c_out_.to_network) {
      if (d[0] == 1 && first_initiation == absl::InfiniteFuture()) {
        first_initiation = now_;
      }
    }
    if (HasEvent(c_out_, PeerEventType::kExpired)) expired = now_;
    c_out_.Clear();
  }
  EXPECT_LE(first_initiation - silent_since,
            absl::Seconds(10) + kNewHandshakeTimeout + kRekeyTimeoutJitter);
  EXPECT_LE(expired - silent_since, absl::Seconds(10) + kNewHandshakeTimeout +
                                        kRekeyTimeoutJitter +
                                        kRekeyAttemptTime);
}

TEST_F(PeerTest, WireGuardModeIdleClientWaitsForTheRekey) {
  // Without probes (a WireGuard peer does not answer keepalives), an idle
  // client learns of a dead peer only from its rekey: documented bound
  // REKEY_AFTER_TIME + REKEY_ATTEMPT_TIME.
  SetUpPeers(Mode::kWireGuard, absl::Seconds(10));
  Establish(Mode::kWireGuard);
  const absl::Time silent_since = now_;
  absl::Time first_initiation = absl::InfiniteFuture();
  while (first_initiation == absl::InfiniteFuture() &&
         now_ < silent_since + absl::Minutes(5)) {
    now_ = client_->NextDeadline();
    client_->OnTimer(now_, c_out_);
    for (const auto& d : c_out_.to_network) {
      if (d[0] == 1) first_initiation = now_;
    }
    c_out_.Clear();
  }
  EXPECT_GE(first_initiation - silent_since, kRekeyAfterTime);
}

TEST_F(PeerTest, NoReplyForFifteenSecondsStartsNewHandshake) {
  Establish();
  std::vector<uint8_t> buf(64);
  const auto p = Bytes("anyone?");
  ASSERT_EQ(client_->Send(now_, p, absl::MakeSpan(buf), c_out_).status,
            SendOutcome::kSent);
  const absl::Time deadline = client_->NextDeadline();
  EXPECT_GE(deadline, now_ + kNewHandshakeTimeout);
  EXPECT_LE(deadline, now_ + kNewHandshakeTimeout + kRekeyTimeoutJitter);
  now_ = deadline;
  client_->OnTimer(now_, c_out_);
  ASSERT_EQ(c_out_.to_network.size(), 1u);
  EXPECT_EQ(c_out_.to_network[0][0], 1);
}

TEST_F(PeerTest, InitiatorRekeysAfterTimeAndSessionRotates) {
  Establish();
  now_ += kRekeyAfterTime;
  std::vector<uint8_t> buf(64);
  const auto p = Bytes("old-but-valid");
  PeerOutput out;
  SendResult r = client_->Send(now_, p, absl::MakeSpan(buf), out);
  EXPECT_EQ(r.status, SendOutcome::kSent);  // Still sent on the old session.
  ASSERT_EQ(out.to_network.size(), 1u);     // And a rekey initiation.
  EXPECT_EQ(out.to_network[0][0], 1);
  buf.resize(r.size);
  auto old_session_packet = buf;
  // Complete the rekey.
  Deliver(out, *server_, kClientAddr, s_out_, Mode::kSnap);
  Deliver(s_out_, *client_, kServerAddr, c_out_, Mode::kSnap);
  Deliver(c_out_, *server_, kClientAddr, s_out_, Mode::kSnap);
  EXPECT_TRUE(HasEvent(s_out_, PeerEventType::kHandshakeCompleted));
  // A late packet of the previous session still decrypts.
  PeerOutput s;
  EXPECT_EQ(server_
                ->Receive(now_, MessageType::kTransport,
                          absl::MakeSpan(old_session_packet), kClientAddr, s)
                .kind,
            ReceiveResult::Kind::kData);
  // New traffic flows on the new session.
  EXPECT_EQ(SendOne(*server_, *client_, "new", kServerAddr).kind,
            ReceiveResult::Kind::kData);
}

TEST_F(PeerTest, InitiatorRekeysOnceWhenReceivingOnAnAgingSession) {
  Establish();
  now_ += absl::Seconds(164);
  PeerOutput out;
  std::vector<uint8_t> buf(64);
  const auto p = Bytes("young");
  SendResult r = server_->Send(now_, p, absl::MakeSpan(buf), out);
  ASSERT_EQ(r.status, SendOutcome::kSent);
  buf.resize(r.size);
  PeerOutput c;
  client_->Receive(now_, MessageType::kTransport, absl::MakeSpan(buf),
                   kServerAddr, c);
  EXPECT_TRUE(c.to_network.empty());  // 164 s: not yet.
  now_ += absl::Seconds(1);
  for (int i = 0; i < 2; ++i) {
    std::vector<uint8_t> b(64);
    r = server_->Send(now_, p, absl::MakeSpan(b), out);
    b.resize(r.size);
    c.Clear();
    client_->Receive(now_, MessageType::kTransport, absl::MakeSpan(b),
                     kServerAddr, c);
    // 165 s: one initiation on the first packet, none on the second.
    EXPECT_EQ(c.to_network.size(), i == 0 ? 1u : 0u);
  }
}

TEST_F(PeerTest, KeypairExpiresAfterRejectAfterTime) {
  Establish();
  now_ += kRejectAfterTime;
  server_->OnTimer(now_, s_out_);
  EXPECT_FALSE(server_->Established(now_));
  EXPECT_TRUE(server_->Dead(now_));
  std::vector<uint8_t> buf(64);
  const auto p = Bytes("late");
  PeerOutput out;
  // The client's keypair is expired too: the payload queues and a new
  // handshake starts.
  SendResult r = client_->Send(now_, p, absl::MakeSpan(buf), out);
  EXPECT_EQ(r.status, SendOutcome::kQueued);
  ASSERT_EQ(out.to_network.size(), 1u);
  EXPECT_EQ(out.to_network[0][0], 1);
}

TEST_F(PeerTest, CookieReplyTriggersImmediateRetryWithMac2) {
  client_->Connect(now_, c_out_);
  auto init = c_out_.to_network[0];
  c_out_.Clear();
  CookieChecker checker(server_id_);
  FakeRandom rng(5);
  std::vector<uint8_t> reply(cookie_reply::kSize);
  ASSERT_TRUE(checker.WriteReply(init, kClientAddr, now_, rng, reply.data()));
  ReceiveResult r =
      client_->Receive(now_, MessageType::kCookieReply, absl::MakeSpan(reply),
                       kServerAddr, c_out_);
  EXPECT_EQ(r.kind, ReceiveResult::Kind::kCookie);
  ASSERT_EQ(c_out_.to_network.size(), 1u);
  const auto& retry = c_out_.to_network[0];
  EXPECT_TRUE(CheckMac1(retry, server_id_.mac1_key()));
  EXPECT_TRUE(checker.CheckMac2(retry, kClientAddr, now_, rng));
  EXPECT_FALSE(checker.CheckMac2(init, kClientAddr, now_, rng));
  // The cookie is bound to the address and port.
  EXPECT_FALSE(checker.CheckMac2(retry, Endpoint::Ipv4({192, 0, 2, 7}, 40001),
                                 now_, rng));
  // A second copy of the same reply no longer matches the last initiation.
  PeerOutput o;
  r = client_->Receive(now_, MessageType::kCookieReply, absl::MakeSpan(reply),
                       kServerAddr, o);
  EXPECT_EQ(r.drop, DropReason::kInvalidPacket);
}

TEST_F(PeerTest, AddressChangeOnRehandshakeIsReported) {
  Establish();
  now_ += absl::Seconds(6);
  client_->Connect(now_, c_out_);
  const Endpoint rebound = Endpoint::Ipv4({192, 0, 2, 7}, 40999);
  Deliver(c_out_, *server_, rebound, s_out_, Mode::kSnap);
  Deliver(s_out_, *client_, kServerAddr, c_out_, Mode::kSnap);
  EXPECT_TRUE(HasEvent(c_out_, PeerEventType::kAddressChanged));
  EXPECT_EQ(*client_->observed_address(), rebound);
}

TEST_F(PeerTest, ResponsesWithAnUndecodableAddressNeverEstablish) {
  // W35: the reference established a session whose observed address did
  // not decode and then looped until the 540 s expiry. A responder that
  // always seals an address that does not decode (IPv4 with a non-zero
  // leading byte) fails each handshake as address_rejected; the client
  // retransmits, never sends data, and gives up after REKEY_ATTEMPT_TIME.
  const absl::Time start = now_;
  client_->Connect(now_, c_out_);
  int rejected = 0;
  bool expired = false;
  uint32_t index = 100;
  while (!expired && now_ - start < absl::Minutes(3)) {
    for (auto& initiation : c_out_.to_network) {
      ASSERT_EQ(initiation.size(), initiation::kSize);
      InitiationContents contents;
      ASSERT_EQ(OpenInitiationStatic(server_id_, initiation, contents),
                HandshakeFailure::kNone);
      crypto::Tai64n timestamp;
      ASSERT_EQ(
          OpenInitiationTimestamp(server_id_, initiation, contents, timestamp),
          HandshakeFailure::kNone);
      auto field = EncodeIpSocketAddr(Endpoint::Ipv4({192, 0, 2, 1}, 4242));
      field[4] = 1;
      ASSERT_FALSE(DecodeIpSocketAddr(field).has_value());
      std::vector<uint8_t> response(response::Size(Mode::kSnap));
      TransportKeys keys;
      ASSERT_TRUE(WriteSnapResponseSealing(
          contents, field, crypto::X25519KeyPair::Generate(server_rng_),
          ++index, response.data(), keys));
      WriteMacs(absl::MakeSpan(response), client_id_.mac1_key(), std::nullopt);
      PeerOutput out;
      held_.push_back(response);
      const ReceiveResult r =
          client_->Receive(now_, MessageType::kResponse,
                           absl::MakeSpan(held_.back()), kServerAddr, out);
      EXPECT_EQ(r.failure, HandshakeFailure::kAddressRejected);
      rejected += r.failure == HandshakeFailure::kAddressRejected;
      EXPECT_FALSE(client_->Established(now_));
      EXPECT_TRUE(out.to_network.empty());  // No confirming keepalive.
    }
    c_out_.Clear();
    now_ = client_->NextDeadline();
    client_->OnTimer(now_, c_out_);
    expired = HasEvent(c_out_, PeerEventType::kExpired);
  }
  EXPECT_TRUE(expired);
  EXPECT_LE(now_ - start, kRekeyAttemptTime + absl::Seconds(1));
  EXPECT_GE(rejected, 10);
}

}  // namespace
}  // namespace snaptun::core
