// Gateway demultiplexing, admission and authorization.
#include "tunnel/core/tunnel_table.h"

#include <algorithm>

#include "tunnel/core/messages.h"
#include "tunnel/core/noise.h"
#include "tunnel/crypto/tai64n.h"

namespace snaptun::core {
namespace {

IncomingResult DropIn(DropReason drop,
                      HandshakeFailure failure = HandshakeFailure::kNone) {
  IncomingResult r;
  r.drop = drop;
  r.failure = failure;
  return r;
}

// A tunnel's peer refused an initiation for its order alone, not for who
// sent it or what it holds.
bool IsOutOfOrder(HandshakeFailure failure) {
  return failure == HandshakeFailure::kStaleTimestamp ||
         failure == HandshakeFailure::kRateLimited;
}

}  // namespace

absl::string_view RemovalReasonName(RemovalReason reason) {
  switch (reason) {
    case RemovalReason::kExpired:
      return "session expired";
    case RemovalReason::kUnauthorized:
      return "identity not authorized";
    case RemovalReason::kReplaced:
      return "replaced by another identity at the same address";
    case RemovalReason::kClosed:
      return "closed";
  }
  return "unknown";
}

void TableOutput::Clear() {
  to_network.clear();
  events.clear();
  std::fill(std::begin(drops), std::end(drops), 0);
  flushed.clear();
}

namespace {

std::shared_ptr<const PeerConfig> PeerConfigOf(
    const TunnelTableConfig& config) {
  PeerConfig peer;
  peer.mode = config.mode;
  peer.queue_capacity = config.queue_capacity;
  return std::make_shared<const PeerConfig>(peer);
}

}  // namespace

TunnelTable::TunnelTable(const LocalIdentity& local,
                         const Authorizer& authorizer,
                         crypto::RandomSource& rng,
                         const TunnelTableConfig& config,
                         HandshakeLedger* shared)
    : local_(local),
      authorizer_(authorizer),
      rng_(rng),
      config_(config),
      peer_config_(PeerConfigOf(config)),
      own_ledger_(shared != nullptr
                      ? nullptr
                      : std::make_unique<HandshakeLedger>(
                            config.rate_limiter,
                            std::max<size_t>(config.max_tunnels, 1024))),
      ledger_(shared != nullptr ? *shared : *own_ledger_),
      cookies_(local) {}

TunnelTable::~TunnelTable() {
  if (config_.quota == nullptr) return;
  for (size_t i = 0; i < tunnels_.size(); ++i) config_.quota->Release();
}

void TunnelTable::Collect(const Endpoint& remote,
                          const crypto::PublicKey& identity,
                          PeerOutput& peer_out, TableOutput& out) {
  for (auto& d : peer_out.to_network) {
    out.to_network.emplace_back(remote, std::move(d));
  }
  for (const PeerEvent& e : peer_out.events) {
    out.events.push_back(
        {TableEvent::Type::kPeer, remote, identity, e, RemovalReason::kClosed});
  }
  for (size_t i = 0; i < kDropReasonCount; ++i)
    out.drops[i] += peer_out.drops[i];
  if (peer_out.flushed_packets != 0) {
    out.flushed.push_back(
        {remote, peer_out.flushed_packets, peer_out.flushed_bytes});
  }
  peer_out.Clear();
}

void TunnelTable::Schedule(const Endpoint& remote, Tunnel& tunnel) {
  const absl::Time next =
      std::min<absl::Time>(tunnel.peer->NextDeadline(), tunnel.grant_expires);
  // Later deadlines are found when the earlier entry fires; only an earlier
  // one needs a new heap entry. This bounds the heap by real changes.
  if (next < tunnel.scheduled) {
    tunnel.scheduled = next;
    if (next != absl::InfiniteFuture()) deadlines_.push({next, remote});
  }
}

void TunnelTable::Erase(const Endpoint& remote, RemovalReason reason,
                        TableOutput& out, bool release_quota) {
  auto it = tunnels_.find(remote);
  if (it == tunnels_.end()) return;
  if (release_quota && config_.quota != nullptr) config_.quota->Release();
  const crypto::PublicKey identity = it->second.identity;
  auto count = per_identity_.find(identity);
  if (count != per_identity_.end() && --count->second == 0) {
    per_identity_.erase(count);
  }
  out.drops[static_cast<size_t>(DropReason::kNoTunnel)] +=
      static_cast<uint32_t>(it->second.peer->queued());
  tunnels_.erase(it);
  out.events.push_back(
      {TableEvent::Type::kRemoved, remote, identity, PeerEvent{}, reason});
}

std::optional<Grant> TunnelTable::Reauthorize(absl::Time now,
                                              const Endpoint& remote,
                                              Tunnel& tunnel,
                                              TableOutput& out) {
  std::optional<Grant> grant = authorizer_.Authorize(now, tunnel.identity);
  if (!grant.has_value()) {
    Erase(remote, RemovalReason::kUnauthorized, out);
    return std::nullopt;
  }
  tunnel.grant_expires = grant->expires_at;
  return grant;
}

bool TunnelTable::AdmitHandshake(absl::Time now,
                                 absl::Span<const uint8_t> message,
                                 const Endpoint& from, TableOutput& out) {
  switch (ledger_.Admit(now, from)) {
    case HandshakeRateLimiter::Decision::kAccept:
      return true;
    case HandshakeRateLimiter::Decision::kDrop:
      return false;
    case HandshakeRateLimiter::Decision::kNeedCookie:
      break;
  }
  if (cookies_.CheckMac2(message, from, now, rng_)) return true;
  std::vector<uint8_t> reply(cookie_reply::kSize);
  if (cookies_.WriteReply(message, from, now, rng_, reply.data())) {
    out.to_network.emplace_back(from, std::move(reply));
    out.events.push_back({TableEvent::Type::kCookieSent, from});
  }
  return false;
}

IncomingResult TunnelTable::HandleIncoming(absl::Time now,
                                           absl::Span<uint8_t> datagram,
                                           const Endpoint& from,
                                           TableOutput& out) {
  if (datagram.size() > kMaxDatagramSize) return DropIn(DropReason::kOversize);
  const std::optional<MessageType> type = Classify(datagram, config_.mode);
  if (!type.has_value()) return DropIn(DropReason::kInvalidPacket);

  const bool handshake =
      *type == MessageType::kInitiation || *type == MessageType::kResponse;
  const bool initiation = *type == MessageType::kInitiation;
  if (handshake) {
    if (!CheckMac1(datagram, local_.mac1_key())) {
      IncomingResult r =
          DropIn(DropReason::kInvalidPacket, HandshakeFailure::kInvalidMac);
      r.initiation = initiation;
      return r;
    }
    const size_t events = out.events.size();
    if (!AdmitHandshake(now, datagram, from, out)) {
      IncomingResult r =
          DropIn(DropReason::kRateLimited, HandshakeFailure::kRateLimited);
      r.initiation = initiation;
      r.cookie_sent = out.events.size() > events;
      return r;
    }
  }

  auto it = tunnels_.find(from);
  Tunnel* tunnel = it == tunnels_.end() ? nullptr : &it->second;
  if (initiation) {
    IncomingResult r = HandleInitiation(now, datagram, from, tunnel, out);
    r.initiation = true;
    return r;
  }
  if (tunnel == nullptr) return DropIn(DropReason::kNoTunnel);
  if (*type == MessageType::kTransport && tunnel->candidate != nullptr &&
      tunnel->candidate->OwnsSession(
          ReadIndex(datagram.data() + transport::kReceiverIndex))) {
    return ConfirmCandidate(now, datagram, from, *tunnel, out);
  }

  std::optional<Grant> grant = Reauthorize(now, from, *tunnel, out);
  if (!grant.has_value()) {
    return DropIn(
        DropReason::kUnauthorized,
        handshake ? HandshakeFailure::kUnauthorized : HandshakeFailure::kNone);
  }
  ReceiveResult r = tunnel->peer->Receive(now, *type, datagram, from, scratch_);
  const crypto::PublicKey identity = tunnel->identity;
  Collect(from, identity, scratch_, out);
  Schedule(from, *tunnel);
  IncomingResult result;
  result.kind = r.kind;
  result.drop = r.drop;
  result.failure = r.failure;
  result.payload = r.payload;
  result.grant = grant;
  return result;
}

IncomingResult TunnelTable::HandleInitiation(absl::Time now,
                                             absl::Span<uint8_t> datagram,
                                             const Endpoint& from,
                                             Tunnel* existing,
                                             TableOutput& out) {
  // e, es, s: who is this, before any state exists.
  InitiationContents contents;
  HandshakeFailure f = OpenInitiationStatic(local_, datagram, contents);
  if (f != HandshakeFailure::kNone) return DropIn(DropReasonFor(f), f);

  std::optional<Grant> grant =
      authorizer_.Authorize(now, contents.remote_static);
  if (!grant.has_value()) {
    // No response, no state: an unauthorized identity learns nothing.
    if (existing != nullptr && existing->identity == contents.remote_static) {
      Erase(from, RemovalReason::kUnauthorized, out);
    }
    return DropIn(DropReason::kUnauthorized, HandshakeFailure::kUnauthorized);
  }

  // A different identity at an occupied address is either NAT reuse or
  // someone spoofing the address. Nothing changes for the tunnel there until
  // the newcomer proves it receives at this address (T3).
  const bool replacing =
      existing != nullptr && existing->identity != contents.remote_static;
  Tunnel* same = replacing ? nullptr : existing;
  if (same == nullptr) {
    const size_t held = tunnels_.size() - (replacing ? 1 : 0);
    const bool daemon_full = !replacing && config_.quota != nullptr &&
                             config_.quota->held() >= config_.quota->limit();
    if (held >= config_.max_tunnels || daemon_full ||
        CountFor(contents.remote_static) >= config_.max_tunnels_per_identity) {
      return DropIn(DropReason::kRateLimited, HandshakeFailure::kRateLimited);
    }
  }

  std::unique_ptr<Peer> fresh;
  Peer* peer;
  if (same != nullptr) {
    peer = same->peer.get();
  } else {
    fresh = NewPeer(contents.remote_static);
    peer = fresh.get();
  }
  const crypto::PublicKey identity = contents.remote_static;
  const crypto::PublicKey ephemeral = contents.remote_ephemeral;
  contents.static_secret = authorizer_.PrecomputedStaticSecret(identity);
  // Kept for a newcomer (below): accepting consumes the handshake state.
  std::optional<InitiationContents> opened;
  if (same != nullptr) opened = contents;
  ReceiveResult r =
      peer->AcceptInitiation(now, datagram, contents, from, scratch_);
  // The identity's tunnel here refuses the initiation as out of order (its
  // timestamp is not after the tunnel's last, which has a resolution of
  // 16.8 ms, or it came within the flood interval). That is what a new
  // socket of the same identity sees when the kernel gave it the port of a
  // socket whose tunnel is still here: many tunnels of one client host do.
  // It becomes a candidate like another identity's newcomer: answered at
  // once (the ledger still refuses a replayed initiation, and one older
  // than the tunnel's last is refused here), and the tunnel goes on with
  // the old session until the newcomer confirms its own.
  const bool newcomer = same != nullptr && IsOutOfOrder(r.failure);
  if (newcomer) {
    scratch_.Clear();
    fresh = NewPeer(identity);
    peer = fresh.get();
    contents = *opened;
    r = peer->AcceptInitiation(now, datagram, contents, from, scratch_);
    if (r.kind != ReceiveResult::Kind::kDropped &&
        crypto::Tai64nAfter(same->peer->last_timestamp(),
                            peer->last_timestamp())) {
      scratch_.Clear();
      return DropIn(DropReason::kReplay, HandshakeFailure::kStaleTimestamp);
    }
  }
  if (r.kind == ReceiveResult::Kind::kDropped) {
    // A failed first initiation leaves nothing behind (W12).
    scratch_.Clear();
    return DropIn(r.drop, r.failure);
  }
  // A replay of an authorized initiation from another address reaches a
  // fresh peer with no history; the identity's ledger catches it (same
  // ephemeral key, or far older than the identity's newest initiation).
  const bool first_claim =
      ledger_.Claim(identity, peer->last_timestamp(), ephemeral);
  if (fresh != nullptr && !first_claim) {
    scratch_.Clear();  // The response is never sent.
    return DropIn(DropReason::kReplay, HandshakeFailure::kStaleTimestamp);
  }
  IncomingResult result;
  result.kind = ReceiveResult::Kind::kHandshake;
  result.grant = grant;
  if (replacing || newcomer) {
    // The response goes out; the old tunnel stays until confirmation.
    existing->candidate = std::move(fresh);
    Collect(from, identity, scratch_, out);
    return result;
  }
  if (fresh != nullptr) {
    if (config_.quota != nullptr && !config_.quota->TryAcquire()) {
      scratch_.Clear();  // The daemon is full: no response, no state.
      return DropIn(DropReason::kRateLimited, HandshakeFailure::kRateLimited);
    }
    Tunnel t;
    t.peer = std::move(fresh);
    t.identity = identity;
    same = &tunnels_.emplace(from, std::move(t)).first->second;
    ++per_identity_[identity];
    out.events.push_back({TableEvent::Type::kCreated, from, identity});
  }
  same->grant_expires = grant->expires_at;
  Collect(from, identity, scratch_, out);
  Schedule(from, *same);
  return result;
}

IncomingResult TunnelTable::ConfirmCandidate(absl::Time now,
                                             absl::Span<uint8_t> datagram,
                                             const Endpoint& from,
                                             Tunnel& tunnel, TableOutput& out) {
  const crypto::PublicKey identity = tunnel.candidate->remote_public_key();
  std::optional<Grant> grant = authorizer_.Authorize(now, identity);
  if (!grant.has_value()) {
    tunnel.candidate.reset();
    return DropIn(DropReason::kUnauthorized);
  }
  ReceiveResult r = tunnel.candidate->Receive(now, MessageType::kTransport,
                                              datagram, from, scratch_);
  if (r.kind == ReceiveResult::Kind::kDropped) {
    scratch_.Clear();
    return DropIn(r.drop, r.failure);
  }
  // Key confirmation: the newcomer receives at this address, so the old
  // tunnel cannot be the one talking from it any more.
  std::unique_ptr<Peer> confirmed = std::move(tunnel.candidate);
  IncomingResult result;
  result.kind = r.kind;
  result.payload = r.payload;
  result.grant = grant;
  if (identity == tunnel.identity) {
    // The same identity from a new socket at this address: the tunnel (the
    // address's, in SNAP) goes on with the newcomer's session. What the
    // old session still queued is lost.
    out.drops[static_cast<size_t>(DropReason::kNoTunnel)] +=
        static_cast<uint32_t>(tunnel.peer->queued());
    tunnel.peer = std::move(confirmed);
    tunnel.grant_expires = grant->expires_at;
    Collect(from, identity, scratch_, out);
    Schedule(from, tunnel);
    return result;
  }
  Erase(from, RemovalReason::kReplaced, out, /*release_quota=*/false);
  Tunnel t;
  t.peer = std::move(confirmed);
  t.identity = identity;
  t.grant_expires = grant->expires_at;
  Tunnel& replaced = tunnels_.emplace(from, std::move(t)).first->second;
  ++per_identity_[identity];
  out.events.push_back({TableEvent::Type::kCreated, from, identity});
  Collect(from, identity, scratch_, out);
  Schedule(from, replaced);
  return result;
}

OutgoingResult TunnelTable::HandleOutgoing(absl::Time now, const Endpoint& to,
                                           absl::Span<const uint8_t> payload,
                                           absl::Span<uint8_t> datagram,
                                           TableOutput& out) {
  OutgoingResult result;
  auto it = tunnels_.find(to);
  if (it == tunnels_.end()) {
    result.drop = DropReason::kNoTunnel;
    return result;
  }
  Tunnel& tunnel = it->second;
  result.grant = Reauthorize(now, to, tunnel, out);
  if (!result.grant.has_value()) {
    result.drop = DropReason::kUnauthorized;
    return result;
  }
  SendResult s = tunnel.peer->Send(now, payload, datagram, scratch_);
  Collect(to, tunnel.identity, scratch_, out);
  Schedule(to, tunnel);
  result.status = s.status;
  result.drop = s.drop;
  result.size = s.size;
  return result;
}

void TunnelTable::OnTimer(absl::Time now, TableOutput& out) {
  while (!deadlines_.empty() && deadlines_.top().at <= now) {
    const Deadline d = deadlines_.top();
    deadlines_.pop();
    auto it = tunnels_.find(d.remote);
    if (it == tunnels_.end() || absl::Time(it->second.scheduled) != d.at)
      continue;
    Tunnel& tunnel = it->second;
    tunnel.scheduled = absl::InfiniteFuture();
    // Timer traffic goes only to peers that are still authorized (W11).
    if (!Reauthorize(now, d.remote, tunnel, out).has_value()) continue;
    tunnel.peer->OnTimer(now, scratch_);
    Collect(d.remote, tunnel.identity, scratch_, out);
    if (tunnel.peer->Dead(now)) {
      Erase(d.remote, RemovalReason::kExpired, out);
      continue;
    }
    Schedule(d.remote, tunnel);
  }
  // Entries superseded by earlier ones linger until they surface; rebuild
  // when they dominate, so the heap stays proportional to the tunnels.
  if (deadlines_.size() > 4 * tunnels_.size() + 64) {
    decltype(deadlines_) fresh;
    for (auto& [remote, tunnel] : tunnels_) {
      if (tunnel.scheduled != absl::InfiniteFuture()) {
        fresh.push({tunnel.scheduled, remote});
      }
    }
    deadlines_ = std::move(fresh);
  }
}

absl::Time TunnelTable::NextDeadline() const {
  return deadlines_.empty() ? absl::InfiniteFuture()
                            : absl::Time(deadlines_.top().at);
}

size_t TunnelTable::RemoveIdentity(const crypto::PublicKey& identity,
                                   RemovalReason reason, TableOutput& out) {
  std::vector<Endpoint> doomed;
  for (const auto& [remote, tunnel] : tunnels_) {
    if (tunnel.identity == identity) doomed.push_back(remote);
  }
  for (const Endpoint& remote : doomed) Erase(remote, reason, out);
  return doomed.size();
}

bool TunnelTable::Remove(const Endpoint& remote, RemovalReason reason,
                         TableOutput& out) {
  if (!tunnels_.contains(remote)) return false;
  Erase(remote, reason, out);
  return true;
}

size_t TunnelTable::CountFor(const crypto::PublicKey& identity) const {
  auto it = per_identity_.find(identity);
  return it == per_identity_.end() ? 0 : it->second;
}

const Peer* TunnelTable::Find(const Endpoint& remote) const {
  auto it = tunnels_.find(remote);
  return it == tunnels_.end() ? nullptr : it->second.peer.get();
}

}  // namespace snaptun::core
