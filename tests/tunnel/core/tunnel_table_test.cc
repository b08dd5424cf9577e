// The gateway's tunnel table: the reference's core tests (two clients, each
// learning its own observed address; data both ways; per-packet
// authorization with refreshed grants; no tunnel, no packet) plus the
// defects it fixes: revocation and expiry evict, limits hold, failed or
// replayed initiations leave no state, cookies under load, garbage is
// counted.
#include "tunnel/core/tunnel_table.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "tests/testing/fake_random.h"
#include "tests/testing/keys.h"
#include "tunnel/core/noise.h"
#include "tunnel/core/timers.h"

namespace snaptun::core {
namespace {

using ::snaptun::testing::FakeRandom;

constexpr auto Key = ::snaptun::testing::FilledKey;

class FakeAuthorizer final : public Authorizer {
 public:
  std::optional<Grant> Authorize(
      absl::Time now, const crypto::PublicKey& identity) const override {
    ++calls;
    auto it = grants.find(identity);
    if (it == grants.end() || now >= it->second.expires_at) {
      return std::nullopt;
    }
    return it->second;
  }
  std::optional<crypto::SymmetricKey> PrecomputedStaticSecret(
      const crypto::PublicKey& identity) const override {
    auto it = secrets.find(identity);
    if (it == secrets.end()) return std::nullopt;
    return it->second;
  }
  absl::flat_hash_map<crypto::PublicKey, Grant> grants;
  absl::flat_hash_map<crypto::PublicKey, crypto::SymmetricKey> secrets;
  mutable int calls = 0;
};

struct Client {
  Client(uint8_t key, Endpoint addr, const crypto::PublicKey& gateway,
         uint64_t seed)
      : identity(Key(key)),
        rng(seed),
        address(addr),
        peer(identity, gateway, PeerConfig{}, rng) {}
  LocalIdentity identity;
  FakeRandom rng;
  Endpoint address;
  Peer peer;
  PeerOutput out;
};

class TunnelTableTest : public ::testing::Test {
 protected:
  TunnelTableTest() { Reset(TunnelTableConfig{}); }

  void Reset(const TunnelTableConfig& config) {
    table_ = std::make_unique<TunnelTable>(gateway_, authz_, rng_, config);
  }

  void Authorize(const Client& c, absl::Time expires = absl::InfiniteFuture(),
                 uint64_t version = 1) {
    authz_.grants[c.identity.public_key()] = Grant{expires, version};
  }

  // Sends every datagram the client has queued to the table; returns the
  // results and moves table replies for this client back into `replies`.
  std::vector<IncomingResult> ToGateway(Client& c) {
    std::vector<IncomingResult> results;
    auto datagrams = std::move(c.out.to_network);
    c.out.to_network.clear();
    for (auto& d : datagrams) {
      results.push_back(
          table_->HandleIncoming(now_, absl::MakeSpan(d), c.address, out_));
    }
    return results;
  }

  // Delivers the table's datagrams addressed to `c`.
  std::vector<ReceiveResult> ToClient(Client& c) {
    std::vector<ReceiveResult> results;
    std::vector<std::pair<Endpoint, std::vector<uint8_t>>> rest;
    for (auto& [to, d] : out_.to_network) {
      if (to != c.address) {
        rest.emplace_back(to, std::move(d));
        continue;
      }
      auto type = Classify(d, Mode::kSnap);
      EXPECT_TRUE(type.has_value());
      received_.push_back(d);
      results.push_back(c.peer.Receive(
          now_, *type, absl::MakeSpan(received_.back()), gateway_addr_, c.out));
    }
    out_.to_network = std::move(rest);
    return results;
  }

  void Establish(Client& c) {
    c.peer.Connect(now_, c.out);
    ToGateway(c);
    ToClient(c);  // Response; the client answers with a keepalive.
    ASSERT_TRUE(c.peer.Established(now_));
    auto r = ToGateway(c);
    ASSERT_EQ(r.size(), 1u);
    ASSERT_EQ(r[0].kind, ReceiveResult::Kind::kKeepalive);
  }

  IncomingResult SendUp(Client& c, const std::string& payload) {
    std::vector<uint8_t> buf(payload.size() + 32);
    std::vector<uint8_t> p(payload.begin(), payload.end());
    SendResult s = c.peer.Send(now_, p, absl::MakeSpan(buf), c.out);
    EXPECT_EQ(s.status, SendOutcome::kSent);
    buf.resize(s.size);
    up_.push_back(buf);
    return table_->HandleIncoming(now_, absl::MakeSpan(up_.back()), c.address,
                                  out_);
  }

  OutgoingResult SendDown(Client& c, const std::string& payload,
                          std::vector<uint8_t>& buf) {
    buf.assign(payload.size() + 32, 0);
    std::vector<uint8_t> p(payload.begin(), payload.end());
    OutgoingResult r =
        table_->HandleOutgoing(now_, c.address, p, absl::MakeSpan(buf), out_);
    buf.resize(r.size);
    return r;
  }

  static std::string Str(absl::Span<const uint8_t> s) {
    return std::string(s.begin(), s.end());
  }

  bool Removed(RemovalReason reason) const {
    for (const TableEvent& e : out_.events) {
      if (e.type == TableEvent::Type::kRemoved && e.removal == reason) {
        return true;
      }
    }
    return false;
  }

  absl::Time now_ = absl::FromUnixSeconds(1767225600);
  LocalIdentity gateway_{Key(2)};
  Endpoint gateway_addr_ = Endpoint::Ipv4({10, 0, 0, 1}, 5001);
  FakeAuthorizer authz_;
  FakeRandom rng_{77};
  std::unique_ptr<TunnelTable> table_;
  TableOutput out_;
  std::vector<std::vector<uint8_t>> received_;
  std::vector<std::vector<uint8_t>> up_;
};

// A payload for a tunnel whose client has not confirmed the session yet
// waits in the responder's queue; the confirmation seals it, and the
// output says for which tunnel, so the gateway counts it on that tunnel's
// port too.
TEST_F(TunnelTableTest, PayloadsFlushedOnConfirmationNameTheirTunnel) {
  Client c(0x12, Endpoint::Ipv4({192, 168, 1, 3}, 2222), gateway_.public_key(),
           3);
  Authorize(c);
  c.peer.Connect(now_, c.out);
  ToGateway(c);  // The initiation: a tunnel, not yet confirmed.
  std::vector<uint8_t> buf;
  EXPECT_EQ(SendDown(c, "early", buf).status, SendOutcome::kQueued);
  EXPECT_TRUE(out_.flushed.empty());
  ToClient(c);  // The response; the client confirms with a keepalive.
  out_.flushed.clear();
  ASSERT_EQ(ToGateway(c).size(), 1u);
  ASSERT_EQ(out_.flushed.size(), 1u);
  EXPECT_EQ(out_.flushed[0].remote, c.address);
  EXPECT_EQ(out_.flushed[0].packets, 1u);
  EXPECT_EQ(out_.flushed[0].bytes, 5u);
  // The client receives it.
  const std::vector<ReceiveResult> got = ToClient(c);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Str(got[0].payload), "early");
}

TEST_F(TunnelTableTest, TwoClientsEachLearnTheirOwnAddressAndExchangeData) {
  Client c1(0x10, Endpoint::Ipv4({192, 168, 1, 1}, 1234), gateway_.public_key(),
            1);
  Client c2(0x11, Endpoint::Ipv4({192, 168, 1, 2}, 4321), gateway_.public_key(),
            2);
  Authorize(c1);
  Authorize(c2);
  Establish(c1);
  Establish(c2);
  EXPECT_EQ(*c1.peer.observed_address(), c1.address);
  EXPECT_EQ(*c2.peer.observed_address(), c2.address);
  EXPECT_EQ(table_->size(), 2u);

  IncomingResult r1 = SendUp(c1, "from-one");
  ASSERT_EQ(r1.kind, ReceiveResult::Kind::kData);
  EXPECT_EQ(Str(r1.payload), "from-one");
  IncomingResult r2 = SendUp(c2, "from-two");
  ASSERT_EQ(r2.kind, ReceiveResult::Kind::kData);
  EXPECT_EQ(Str(r2.payload), "from-two");

  std::vector<uint8_t> buf;
  OutgoingResult down = SendDown(c1, "to-one", buf);
  ASSERT_EQ(down.status, SendOutcome::kSent);
  PeerOutput o;
  ReceiveResult got = c1.peer.Receive(now_, MessageType::kTransport,
                                      absl::MakeSpan(buf), gateway_addr_, o);
  ASSERT_EQ(got.kind, ReceiveResult::Kind::kData);
  EXPECT_EQ(Str(got.payload), "to-one");
}

// The table takes `ss` from the authorizer when it offers one: the right
// secret completes the handshake, a wrong one fails it as a bad initiation.
TEST_F(TunnelTableTest, HandshakeUsesTheAuthorizersPrecomputedSecret) {
  Client good(0x10, Endpoint::Ipv4({192, 168, 1, 1}, 1234),
              gateway_.public_key(), 1);
  Client bad(0x11, Endpoint::Ipv4({192, 168, 1, 2}, 4321),
             gateway_.public_key(), 2);
  Authorize(good);
  Authorize(bad);
  authz_.secrets[good.identity.public_key()] =
      *StaticSecret(gateway_, good.identity.public_key());
  authz_.secrets[bad.identity.public_key()] =
      *StaticSecret(gateway_, good.identity.public_key());
  Establish(good);
  EXPECT_EQ(Str(SendUp(good, "precomputed").payload), "precomputed");

  bad.peer.Connect(now_, bad.out);
  std::vector<IncomingResult> r = ToGateway(bad);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].kind, ReceiveResult::Kind::kDropped);
  EXPECT_EQ(r[0].failure, HandshakeFailure::kDecryptFailed);
  EXPECT_EQ(table_->size(), 1u);
}

TEST_F(TunnelTableTest, NoTunnelNoPacket) {
  Client c(0x10, Endpoint::Ipv4({192, 168, 1, 1}, 1234), gateway_.public_key(),
           1);
  std::vector<uint8_t> buf;
  OutgoingResult r = SendDown(c, "nobody", buf);
  EXPECT_EQ(r.status, SendOutcome::kDropped);
  EXPECT_EQ(r.drop, DropReason::kNoTunnel);
  // Data from an unknown address is refused too.
  std::vector<uint8_t> data(48, 0);
  data[0] = 4;
  EXPECT_EQ(
      table_->HandleIncoming(now_, absl::MakeSpan(data), c.address, out_).drop,
      DropReason::kNoTunnel);
}

TEST_F(TunnelTableTest, AuthorizationIsCheckedPerPacketWithFreshGrants) {
  Client c(0x10, Endpoint::Ipv4({192, 168, 1, 1}, 1234), gateway_.public_key(),
           1);
  Authorize(c, absl::InfiniteFuture(), /*version=*/1);
  Establish(c);
  IncomingResult r = SendUp(c, "a");
  ASSERT_TRUE(r.grant.has_value());
  EXPECT_EQ(r.grant->version, 1u);
  Authorize(c, absl::InfiniteFuture(), /*version=*/2);
  r = SendUp(c, "b");
  ASSERT_EQ(r.kind, ReceiveResult::Kind::kData);
  EXPECT_EQ(r.grant->version, 2u);
  std::vector<uint8_t> buf;
  OutgoingResult down = SendDown(c, "c", buf);
  ASSERT_TRUE(down.grant.has_value());
  EXPECT_EQ(down.grant->version, 2u);
}

TEST_F(TunnelTableTest, UnauthorizedIdentityGetsNoResponseAndNoState) {
  Client c(0x10, Endpoint::Ipv4({192, 168, 1, 1}, 1234), gateway_.public_key(),
           1);
  c.peer.Connect(now_, c.out);
  auto r = ToGateway(c);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].drop, DropReason::kUnauthorized);
  EXPECT_EQ(r[0].failure, HandshakeFailure::kUnauthorized);
  EXPECT_TRUE(out_.to_network.empty());
  EXPECT_EQ(table_->size(), 0u);
}

TEST_F(TunnelTableTest, AFailedFirstInitiationLeavesNoState) {
  // W12: the reference inserted a tunnel even when the first initiation
  // failed. Here an initiation from an authorized identity whose encrypted
  // timestamp was altered (mac1 still valid, so it gets as far as the
  // decryption) is dropped with nothing kept and nothing sent; the same
  // client's next, intact initiation then succeeds.
  Client c(0x10, Endpoint::Ipv4({192, 168, 1, 1}, 1234), gateway_.public_key(),
           1);
  Authorize(c);
  c.peer.Connect(now_, c.out);
  ASSERT_EQ(c.out.to_network.size(), 1u);
  std::vector<uint8_t> forged = c.out.to_network[0];
  c.out.to_network.clear();
  forged[initiation::kTimestamp] ^= 0x01;
  WriteMacs(absl::MakeSpan(forged), gateway_.mac1_key(), std::nullopt);
  IncomingResult r =
      table_->HandleIncoming(now_, absl::MakeSpan(forged), c.address, out_);
  EXPECT_EQ(r.kind, ReceiveResult::Kind::kDropped);
  EXPECT_EQ(r.failure, HandshakeFailure::kDecryptFailed);
  EXPECT_TRUE(out_.to_network.empty());
  EXPECT_TRUE(out_.events.empty());
  EXPECT_EQ(table_->size(), 0u);
  EXPECT_EQ(table_->NextDeadline(), absl::InfiniteFuture());
  now_ += absl::Seconds(1);
  Client again(0x10, c.address, gateway_.public_key(), 2);
  Establish(again);
  EXPECT_EQ(table_->size(), 1u);
}

TEST_F(TunnelTableTest, RevocationMidSessionEvictsAtOnce) {
  Client c(0x10, Endpoint::Ipv4({192, 168, 1, 1}, 1234), gateway_.public_key(),
           1);
  Authorize(c);
  Establish(c);
  authz_.grants.clear();
  IncomingResult r = SendUp(c, "after-revoke");
  EXPECT_EQ(r.drop, DropReason::kUnauthorized);
  EXPECT_EQ(table_->size(), 0u);
  EXPECT_TRUE(Removed(RemovalReason::kUnauthorized));
  // Downstream too: no tunnel any more.
  std::vector<uint8_t> buf;
  EXPECT_EQ(SendDown(c, "x", buf).drop, DropReason::kNoTunnel);
}

TEST_F(TunnelTableTest, GrantExpiryEvictsOnItsDeadlineWithoutTraffic) {
  Client c(0x10, Endpoint::Ipv4({192, 168, 1, 1}, 1234), gateway_.public_key(),
           1);
  const absl::Time expires = now_ + absl::Seconds(30);
  Authorize(c, expires);
  Establish(c);
  // Before the expiry the gateway only answers the client's confirming
  // keepalive (a liveness probe in SNAP mode), 10 s later.
  EXPECT_EQ(table_->NextDeadline(), now_ + kKeepaliveTimeout);
  now_ += kKeepaliveTimeout;
  table_->OnTimer(now_, out_);
  EXPECT_EQ(table_->NextDeadline(), expires);
  now_ = expires;
  out_.Clear();
  table_->OnTimer(now_, out_);
  EXPECT_EQ(table_->size(), 0u);
  EXPECT_TRUE(Removed(RemovalReason::kUnauthorized));
  EXPECT_TRUE(out_.to_network.empty());  // Nothing sent to a revoked peer.
}

TEST_F(TunnelTableTest, IdleTunnelIsRemovedWhenItsSessionExpires) {
  Client c(0x10, Endpoint::Ipv4({192, 168, 1, 1}, 1234), gateway_.public_key(),
           1);
  Authorize(c);
  Establish(c);
  int wakeups = 0;
  while (table_->size() > 0 && wakeups < 10) {
    now_ = table_->NextDeadline();
    table_->OnTimer(now_, out_);
    ++wakeups;
  }
  EXPECT_EQ(table_->size(), 0u);
  EXPECT_TRUE(Removed(RemovalReason::kExpired));
  EXPECT_LE(wakeups, 3);  // Deadlines, not a 250 ms scan.
  EXPECT_EQ(table_->NextDeadline(), absl::InfiniteFuture());
}

TEST_F(TunnelTableTest, TunnelLimitsHoldPerIdentityAndGlobally) {
  TunnelTableConfig config;
  config.max_tunnels = 3;
  config.max_tunnels_per_identity = 2;
  Reset(config);
  std::vector<std::unique_ptr<Client>> same;
  for (uint16_t port = 1000; port < 1003; ++port) {
    same.push_back(
        std::make_unique<Client>(0x10, Endpoint::Ipv4({192, 168, 1, 1}, port),
                                 gateway_.public_key(), port));
  }
  Authorize(*same[0]);
  Establish(*same[0]);
  now_ += absl::Seconds(1);
  Establish(*same[1]);
  now_ += absl::Seconds(1);
  same[2]->peer.Connect(now_, same[2]->out);
  auto r = ToGateway(*same[2]);
  EXPECT_EQ(r[0].drop, DropReason::kRateLimited);
  EXPECT_EQ(table_->CountFor(same[0]->identity.public_key()), 2u);

  Client other(0x20, Endpoint::Ipv4({192, 168, 1, 9}, 1), gateway_.public_key(),
               9);
  Client third(0x21, Endpoint::Ipv4({192, 168, 1, 10}, 1),
               gateway_.public_key(), 10);
  Authorize(other);
  Authorize(third);
  Establish(other);
  third.peer.Connect(now_, third.out);
  r = ToGateway(third);
  EXPECT_EQ(r[0].drop, DropReason::kRateLimited);
  EXPECT_EQ(table_->size(), 3u);
}

TEST_F(TunnelTableTest, InitiationReplayedFromAnotherAddressCreatesNothing) {
  Client c(0x10, Endpoint::Ipv4({192, 168, 1, 1}, 1234), gateway_.public_key(),
           1);
  Authorize(c);
  c.peer.Connect(now_, c.out);
  auto captured = c.out.to_network[0];
  ToGateway(c);
  out_.Clear();
  now_ += absl::Seconds(1);
  IncomingResult r =
      table_->HandleIncoming(now_, absl::MakeSpan(captured),
                             Endpoint::Ipv4({203, 0, 113, 5}, 999), out_);
  EXPECT_EQ(r.failure, HandshakeFailure::kStaleTimestamp);
  EXPECT_TRUE(out_.to_network.empty());
  EXPECT_EQ(table_->size(), 1u);
}

TEST_F(TunnelTableTest, AnotherIdentityAtTheSameAddressReplacesOnConfirmation) {
  const Endpoint addr = Endpoint::Ipv4({192, 168, 1, 1}, 1234);
  Client a(0x10, addr, gateway_.public_key(), 1);
  Client b(0x11, addr, gateway_.public_key(), 2);
  Authorize(a);
  Authorize(b);
  Establish(a);
  now_ += absl::Seconds(1);
  b.peer.Connect(now_, b.out);
  std::vector<IncomingResult> r = ToGateway(b);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].kind, ReceiveResult::Kind::kHandshake);
  // Answered, but the old tunnel stays until b confirms the session.
  EXPECT_FALSE(Removed(RemovalReason::kReplaced));
  EXPECT_EQ(table_->CountFor(a.identity.public_key()), 1u);
  ToClient(b);  // The response; b answers with a keepalive.
  ASSERT_TRUE(b.peer.Established(now_));
  r = ToGateway(b);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].kind, ReceiveResult::Kind::kKeepalive);
  EXPECT_TRUE(Removed(RemovalReason::kReplaced));
  EXPECT_EQ(table_->size(), 1u);
  EXPECT_EQ(table_->CountFor(a.identity.public_key()), 0u);
  EXPECT_EQ(table_->CountFor(b.identity.public_key()), 1u);
  EXPECT_EQ(Str(SendUp(b, "from b").payload), "from b");
}

// A new socket of the same identity gets the address of a tunnel whose
// client went away: its initiation is within the timestamp's resolution of
// the old tunnel's last one, which that tunnel's peer refuses as stale. It
// is answered at once as a candidate; when it confirms, the tunnel (the
// address's) goes on with its session; a replay of either initiation, or
// an initiation older than the tunnel's last, still gets nothing.
TEST_F(TunnelTableTest, SameIdentityNewSocketAtAnOldTunnelsAddressIsAnswered) {
  const Endpoint addr = Endpoint::Ipv4({192, 168, 1, 1}, 1234);
  Client old_socket(0x10, addr, gateway_.public_key(), 1);
  Client new_socket(0x10, addr, gateway_.public_key(), 2);
  Authorize(old_socket);
  old_socket.peer.Connect(now_, old_socket.out);
  const std::vector<uint8_t> old_initiation = old_socket.out.to_network[0];
  ToGateway(old_socket);
  ToClient(old_socket);
  ASSERT_EQ(ToGateway(old_socket)[0].kind, ReceiveResult::Kind::kKeepalive);
  out_.Clear();
  now_ += absl::Milliseconds(1);  // Same 16.8 ms step of the timestamp.
  new_socket.peer.Connect(now_, new_socket.out);
  const std::vector<uint8_t> new_initiation = new_socket.out.to_network[0];
  std::vector<IncomingResult> r = ToGateway(new_socket);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].kind, ReceiveResult::Kind::kHandshake);
  EXPECT_EQ(r[0].failure, HandshakeFailure::kNone);
  EXPECT_FALSE(Removed(RemovalReason::kReplaced));
  ToClient(new_socket);
  ASSERT_TRUE(new_socket.peer.Established(now_));
  out_.Clear();
  r = ToGateway(new_socket);  // The confirming keepalive.
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].kind, ReceiveResult::Kind::kKeepalive);
  EXPECT_FALSE(Removed(RemovalReason::kReplaced));
  bool completed = false;
  for (const TableEvent& e : out_.events) {
    EXPECT_NE(e.type, TableEvent::Type::kCreated);
    completed |= e.type == TableEvent::Type::kPeer &&
                 e.peer_event.type == PeerEventType::kHandshakeCompleted;
  }
  EXPECT_TRUE(completed);
  EXPECT_EQ(table_->size(), 1u);
  EXPECT_EQ(table_->CountFor(old_socket.identity.public_key()), 1u);
  EXPECT_EQ(Str(SendUp(new_socket, "new").payload), "new");
  // Replays of either initiation at that address: nothing goes back.
  for (std::vector<uint8_t> replay : {old_initiation, new_initiation}) {
    out_.Clear();
    now_ += absl::Milliseconds(30);  // Past the flood interval.
    IncomingResult again =
        table_->HandleIncoming(now_, absl::MakeSpan(replay), addr, out_);
    EXPECT_EQ(again.kind, ReceiveResult::Kind::kDropped);
    EXPECT_TRUE(out_.to_network.empty());
  }
  // A fresh initiation of the identity, but older than the tunnel's last
  // (a clock stepped back, or one captured and held): nothing goes back.
  Client late(0x10, addr, gateway_.public_key(), 3);
  late.peer.Connect(now_ - absl::Seconds(1), late.out);
  out_.Clear();
  r = ToGateway(late);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].failure, HandshakeFailure::kStaleTimestamp);
  EXPECT_TRUE(out_.to_network.empty());
  EXPECT_EQ(Str(SendUp(new_socket, "still").payload), "still");
}

// The attack of T3: an authorized identity's initiation, replayed with a
// victim's source address, must not tear down the victim's tunnel.
TEST_F(TunnelTableTest, InitiationReplayedFromAVictimsAddressChangesNothing) {
  Client victim(0x10, Endpoint::Ipv4({192, 168, 1, 1}, 1234),
                gateway_.public_key(), 1);
  Client other(0x11, Endpoint::Ipv4({192, 168, 1, 2}, 4321),
               gateway_.public_key(), 2);
  Authorize(victim);
  Authorize(other);
  Establish(victim);
  other.peer.Connect(now_, other.out);
  std::vector<uint8_t> captured = other.out.to_network[0];
  ToGateway(other);
  ToClient(other);
  ToGateway(other);
  out_.Clear();
  now_ += absl::Seconds(1);
  IncomingResult r = table_->HandleIncoming(now_, absl::MakeSpan(captured),
                                            victim.address, out_);
  EXPECT_EQ(r.kind, ReceiveResult::Kind::kDropped);
  EXPECT_EQ(r.drop, DropReason::kReplay);
  EXPECT_TRUE(out_.to_network.empty());
  EXPECT_TRUE(out_.events.empty());
  EXPECT_EQ(table_->CountFor(victim.identity.public_key()), 1u);
  EXPECT_EQ(Str(SendUp(victim, "still here").payload), "still here");
}

// A fresh, valid initiation of another authorized identity sent with the
// victim's source address: the sender never sees the response, so it never
// confirms, and the victim's tunnel keeps working in both directions.
TEST_F(TunnelTableTest, SpoofedInitiationWithoutConfirmationChangesNothing) {
  const Endpoint addr = Endpoint::Ipv4({192, 168, 1, 1}, 1234);
  Client victim(0x10, addr, gateway_.public_key(), 1);
  Client spoofer(0x11, addr, gateway_.public_key(), 2);
  Authorize(victim);
  Authorize(spoofer);
  Establish(victim);
  now_ += absl::Seconds(1);
  spoofer.peer.Connect(now_, spoofer.out);
  std::vector<IncomingResult> r = ToGateway(spoofer);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].kind, ReceiveResult::Kind::kHandshake);
  out_.Clear();  // The response reaches the victim's address, not the spoofer.
  EXPECT_EQ(Str(SendUp(victim, "up").payload), "up");
  std::vector<uint8_t> down;
  ASSERT_EQ(SendDown(victim, "down", down).status, SendOutcome::kSent);
  EXPECT_FALSE(Removed(RemovalReason::kReplaced));
  EXPECT_EQ(table_->CountFor(victim.identity.public_key()), 1u);
  EXPECT_EQ(table_->CountFor(spoofer.identity.public_key()), 0u);
}

TEST_F(TunnelTableTest, UnderLoadHandshakesNeedCookies) {
  TunnelTableConfig config;
  config.rate_limiter.per_source_soft = 1;
  Reset(config);
  Client first(0x10, Endpoint::Ipv4({192, 168, 1, 1}, 1000),
               gateway_.public_key(), 1);
  Client second(0x11, Endpoint::Ipv4({192, 168, 1, 1}, 1001),
                gateway_.public_key(), 2);
  Authorize(first);
  Authorize(second);
  Establish(first);
  out_.Clear();
  second.peer.Connect(now_, second.out);
  auto r = ToGateway(second);
  EXPECT_EQ(r[0].drop, DropReason::kRateLimited);
  ASSERT_EQ(out_.to_network.size(), 1u);
  EXPECT_EQ(out_.to_network[0].second.size(), cookie_reply::kSize);
  EXPECT_EQ(table_->size(), 1u);
  // The client takes the cookie and retries at once with mac2.
  auto replies = ToClient(second);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].kind, ReceiveResult::Kind::kCookie);
  now_ += absl::Milliseconds(30);
  r = ToGateway(second);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].kind, ReceiveResult::Kind::kHandshake);
  EXPECT_EQ(table_->size(), 2u);
}

TEST_F(TunnelTableTest, RateLimitWindowRollsOverWithNoTunnels) {
  TunnelTableConfig config;
  config.rate_limiter.per_source_soft = 1;
  config.rate_limiter.per_source_hard = 2;
  Reset(config);
  const Endpoint addr = Endpoint::Ipv4({192, 168, 1, 1}, 1000);
  // Unauthorized: no tunnel will ever exist, yet the window still resets.
  std::vector<DropReason> drops;
  for (int i = 0; i < 3; ++i) {
    Client c(0x10, addr, gateway_.public_key(), 100 + i);
    c.peer.Connect(now_ + absl::Milliseconds(100 * i), c.out);
    drops.push_back(ToGateway(c)[0].drop);
  }
  EXPECT_EQ(drops[0], DropReason::kUnauthorized);  // Admitted, refused.
  EXPECT_EQ(drops[1], DropReason::kRateLimited);   // Needs a cookie.
  EXPECT_EQ(drops[2], DropReason::kRateLimited);   // Over the hard limit.
  EXPECT_EQ(table_->size(), 0u);
  now_ += absl::Seconds(2);
  Client c(0x10, addr, gateway_.public_key(), 200);
  Authorize(c);
  c.peer.Connect(now_, c.out);
  auto r = ToGateway(c);
  EXPECT_EQ(r[0].kind, ReceiveResult::Kind::kHandshake);
}

TEST_F(TunnelTableTest, MalformedDatagramsAreCountedAndChangeNothing) {
  Client c(0x10, Endpoint::Ipv4({192, 168, 1, 1}, 1234), gateway_.public_key(),
           1);
  Authorize(c);
  Establish(c);
  FakeRandom noise(3);
  const size_t sizes[] = {0,  1,   3,   4,   31,  32,  63,  64,  91,
                          92, 111, 112, 113, 147, 148, 149, 1500};
  for (uint8_t type = 0; type < 6; ++type) {
    for (size_t size : sizes) {
      std::vector<uint8_t> d(size);
      noise.Fill(absl::MakeSpan(d));
      if (size > 0) d[0] = type;
      for (size_t i = 1; i < std::min<size_t>(size, 4); ++i) d[i] = 0;
      for (const Endpoint& from :
           {c.address, Endpoint::Ipv4({1, 2, 3, 4}, 5)}) {
        IncomingResult r =
            table_->HandleIncoming(now_, absl::MakeSpan(d), from, out_);
        EXPECT_EQ(r.kind, ReceiveResult::Kind::kDropped)
            << "type " << int{type} << " size " << size;
        EXPECT_NE(r.drop, DropReason::kNone);
      }
    }
  }
  std::vector<uint8_t> oversize(kMaxDatagramSize + 1, 4);
  EXPECT_EQ(
      table_->HandleIncoming(now_, absl::MakeSpan(oversize), c.address, out_)
          .drop,
      DropReason::kOversize);
  EXPECT_EQ(table_->size(), 1u);
  // The legitimate tunnel is unaffected.
  IncomingResult r = SendUp(c, "still-here");
  ASSERT_EQ(r.kind, ReceiveResult::Kind::kData);
  EXPECT_EQ(Str(r.payload), "still-here");
}

TEST_F(TunnelTableTest, ManyIdleTunnelsKeepTheTimerHeapSmall) {
  std::vector<std::unique_ptr<Client>> clients;
  for (uint16_t i = 0; i < 200; ++i) {
    clients.push_back(std::make_unique<Client>(
        0x40,
        Endpoint::Ipv4(
            {10, 1, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)},
            1000),
        gateway_.public_key(), 1000 + i));
  }
  TunnelTableConfig config;
  config.max_tunnels_per_identity = 1000;
  config.rate_limiter.per_source_soft = 1000;
  config.rate_limiter.global_soft = 100000;
  Reset(config);
  Authorize(*clients[0]);
  for (auto& c : clients) {
    Establish(*c);
    now_ += absl::Milliseconds(25);
  }
  EXPECT_EQ(table_->size(), 200u);
  EXPECT_LE(table_->timer_heap_size(), 2 * table_->size());
}

}  // namespace
}  // namespace snaptun::core
