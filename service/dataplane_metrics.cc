// Creates every family and series of PRODUCT.md §5 and keeps the handles.
// The HELP texts say what each series counts in each role, because the roles
// count different halves of a handshake.
#include "service/dataplane_metrics.h"

#include <string>

#include "absl/time/time.h"

namespace snaptun::service {
namespace {

// Handshakes take a round trip, or several retransmissions of 5 s each.
const std::vector<double> kHandshakeBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25,   0.5,   1,      2.5,   5,    10,    30,   90};

using WorkerCounters = metrics::WorkerFamily<metrics::WorkerCounter>;
using Gauges = prometheus::Family<prometheus::Gauge>;

// The families both roles have a series in.
struct RoleFamilies {
  WorkerCounters& initiated;
  WorkerCounters& received;
  WorkerCounters& completed;
  WorkerCounters& failures;
  metrics::WorkerFamily<metrics::WorkerHistogram>& duration;
  WorkerCounters& packets;
  WorkerCounters& bytes;
  WorkerCounters& drops;
  WorkerCounters& receive_errors;
  Gauges& tunnels;
  Gauges& buffers;
};

RoleFamilies MakeFamilies(prometheus::Registry& registry,
                          metrics::WorkerMetrics& workers) {
  return RoleFamilies{
      workers.AddCounter(
          "snaptun_handshakes_initiated_total",
          "Handshake initiations sent, first attempts and retransmissions. "
          "Client tunnels initiate every session; a gateway only when it "
          "must send on a tunnel whose session expired, so role=\"gateway\" "
          "is mostly 0 (its answers are "
          "snaptun_handshake_initiations_received_total)."),
      workers.AddCounter(
          "snaptun_handshake_initiations_received_total",
          "Handshake initiations a gateway received, by what it did: "
          "answered (a response went back), cookie (under load a cookie "
          "reply went back instead; also counted as a rate_limited failure) "
          "or refused (nothing went back; the reason is in "
          "snaptun_handshake_failures_total)."),
      workers.AddCounter(
          "snaptun_handshakes_completed_total",
          "Handshakes that produced a usable session: on the initiating side "
          "(a client, as a rule) when the response is accepted, on the "
          "answering side (a gateway) when the first transport packet "
          "confirms it."),
      workers.AddCounter(
          "snaptun_handshake_failures_total",
          "Handshake messages refused, and handshakes of this side that got "
          "no answer (timeout), by reason. A gateway counts every initiation "
          "it did not answer with a response: refused ones, and those it "
          "answered with a cookie under load (rate_limited)."),
      workers.AddHistogram(
          "snaptun_handshake_duration_seconds",
          "Time from the first initiation to a usable session, as this side "
          "sees it: the initiating side from its first initiation to the "
          "accepted response, the answering side from its response to the "
          "confirming packet.",
          kHandshakeBuckets),
      workers.AddCounter("snaptun_packets_total",
                         "Payload packets carried through tunnels: tx sealed "
                         "and sent, rx opened and queued for the reader."),
      workers.AddCounter("snaptun_bytes_total",
                         "Payload bytes carried through tunnels (plaintext, "
                         "without tunnel headers)."),
      workers.AddCounter(
          "snaptun_packets_dropped_total",
          "Packets and datagrams dropped, by the reason they were dropped."),
      workers.AddCounter(
          "snaptun_socket_receive_errors_total",
          "Reads of a data-plane socket that failed with an error other "
          "than EAGAIN or an ICMP report; each pauses reading the socket, "
          "longer each time while they persist."),
      prometheus::BuildGauge()
          .Name("snaptun_tunnels")
          .Help("Tunnels currently held, by state.")
          .Register(registry),
      prometheus::BuildGauge()
          .Name("snaptun_socket_buffer_bytes")
          .Help("Kernel buffers of the data-plane sockets: the size asked "
                "for (--socket_*_buffer_kib) and the size granted (capped "
                "by net.core.rmem_max / wmem_max unless the process has "
                "CAP_NET_ADMIN); 0 until the role opened a socket.")
          .Register(registry),
  };
}

void AddRole(const std::string& name, RoleFamilies& f, RoleMetrics& m) {
  m.handshakes_initiated = &f.initiated.Add({{"role", name}});
  m.handshakes_completed = &f.completed.Add({{"role", name}});
  for (size_t i = 1; i < core::kHandshakeFailureCount; ++i) {
    m.failures[i] = &f.failures.Add(
        {{"role", name},
         {"reason", std::string(core::HandshakeFailureName(
                        static_cast<core::HandshakeFailure>(i)))}});
  }
  m.handshake_duration = &f.duration.Add({{"role", name}});
  m.packets_tx = &f.packets.Add({{"role", name}, {"direction", "tx"}});
  m.packets_rx = &f.packets.Add({{"role", name}, {"direction", "rx"}});
  m.bytes_tx = &f.bytes.Add({{"role", name}, {"direction", "tx"}});
  m.bytes_rx = &f.bytes.Add({{"role", name}, {"direction", "rx"}});
  for (size_t i = 1; i < core::kDropReasonCount; ++i) {
    m.drops[i] =
        &f.drops.Add({{"role", name},
                      {"reason", std::string(core::DropReasonName(
                                     static_cast<core::DropReason>(i)))}});
  }
  for (size_t i = 0; i < kTunnelStateCount; ++i) {
    const auto state = static_cast<TunnelState>(i);
    if (!Gauged(state)) continue;
    m.tunnels[i] = &f.tunnels.Add(
        {{"role", name}, {"state", std::string(TunnelStateName(state))}});
  }
  m.receive_errors = &f.receive_errors.Add({{"role", name}});
  size_t b = 0;
  for (const char* buffer : {"receive", "send"}) {
    for (const char* kind : {"requested", "granted"}) {
      m.socket_buffers[b++] =
          &f.buffers.Add({{"role", name}, {"buffer", buffer}, {"kind", kind}});
    }
  }
}

}  // namespace

CountersSnapshot RoleMetrics::Counts() const {
  CountersSnapshot counts = traffic.Total();
  counts.tx_packets += packets_tx->Counted();
  counts.tx_bytes += bytes_tx->Counted();
  // Index 0 is kNone, which has no series.
  for (size_t i = 1; i < core::kDropReasonCount; ++i) {
    counts.drops[i] += drops[i]->Counted();
  }
  return counts;
}

void RoleMetrics::ShowTraffic(const CountersSnapshot& counts) {
  packets_tx->SetView(counts.tx_packets);
  bytes_tx->SetView(counts.tx_bytes);
  packets_rx->SetView(counts.rx_packets);
  bytes_rx->SetView(counts.rx_bytes);
  handshakes_completed->SetView(counts.handshakes);
  for (size_t i = 1; i < core::kDropReasonCount; ++i) {
    drops[i]->SetView(counts.drops[i]);
  }
}

DataPlaneMetrics::DataPlaneMetrics(prometheus::Registry& registry,
                                   metrics::WorkerMetrics& workers)
    : workers_(workers) {
  RoleFamilies families = MakeFamilies(registry, workers);
  AddRole("client", families, client_);
  AddRole("gateway", families, gateway_);
  // Only a gateway receives initiations; clients have no such series.
  const char* outcomes[kInitiationOutcomeCount] = {"answered", "cookie",
                                                   "refused"};
  for (size_t i = 0; i < kInitiationOutcomeCount; ++i) {
    gateway_.initiations_received[i] =
        &families.received.Add({{"role", "gateway"}, {"outcome", outcomes[i]}});
  }
  auto& cookies = workers.AddCounter(
      "snaptun_cookie_replies_total",
      "Cookie replies sent (by a gateway under load) and received (by "
      "clients).");
  cookies_sent_ = &cookies.Add({{"direction", "sent"}});
  cookies_received_ = &cookies.Add({{"direction", "received"}});
  reconnects_ = &workers
                     .AddCounter("snaptun_reconnects_total",
                                 "Client tunnels re-established after losing "
                                 "their session.")
                     .Add({});
  auto& registrations =
      prometheus::BuildCounter()
          .Name("snaptun_control_plane_registrations_total")
          .Help(
              "Identity registrations with a SNAP control plane (client "
              "role), by result; retries count each attempt.")
          .Register(registry);
  registrations_success_ = &registrations.Add({{"result", "success"}});
  registrations_failure_ = &registrations.Add({{"result", "failure"}});
  // A scrape waits a bounded time for the workers: /metrics shares its
  // server threads with the health probes.
  refresh_ = workers.AddRefresh([this] {
    const CountersSnapshot client = client_.traffic.Total(kScrapeWait);
    client_.ShowTraffic(client);
    reconnects_->SetView(client.reconnects);
    gateway_.ShowTraffic(gateway_.traffic.Total(kScrapeWait));
  });
}

DataPlaneMetrics::~DataPlaneMetrics() { workers_.RemoveRefresh(refresh_); }

void DataPlaneMetrics::CountPeerEvent(Role role, const core::PeerEvent& event,
                                      size_t shard) {
  RoleMetrics& m = this->role(role);
  switch (event.type) {
    case core::PeerEventType::kHandshakeInitiated:
      m.handshakes_initiated->Increment(1, shard);
      break;
    case core::PeerEventType::kHandshakeCompleted:
      m.handshake_duration->Observe(absl::ToDoubleSeconds(event.duration),
                                    shard);
      break;
    case core::PeerEventType::kCookieReceived:
      cookies_received_->Increment(1, shard);
      break;
    default:
      break;
  }
}

}  // namespace snaptun::service
