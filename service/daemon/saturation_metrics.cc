// One family per limit, each with its use and its limit side by side, so a
// dashboard or an alert divides one by the other.
#include "service/daemon/saturation_metrics.h"

#include "metrics/exposition.h"

namespace snaptun::service {

std::vector<prometheus::MetricFamily> CollectSaturation(
    const SaturationSources& s) {
  using metrics::CounterFamily;
  using metrics::GaugeFamily;
  std::vector<prometheus::MetricFamily> out;
  auto d = [](size_t v) { return static_cast<double>(v); };
  out.push_back(GaugeFamily(
      "snaptun_tunnel_quota",
      "Tunnels of both roles held now (used), and the most the daemon holds "
      "(limit, --max_tunnels, shared by client and gateway tunnels).",
      {{{{"kind", "used"}}, d(s.quota->held())},
       {{{"kind", "limit"}}, d(s.quota->limit())}}));
  out.push_back(GaugeFamily(
      "snaptun_tunnels_per_identity_limit",
      "The most tunnels one client identity may hold "
      "(--max_tunnels_per_identity); refusals at the limit count as "
      "handshake failures with reason rate_limited.",
      {{{}, d(s.max_tunnels_per_identity)}}));
  if (s.identities != nullptr) {
    out.push_back(GaugeFamily(
        "snaptun_identities",
        "Client identities a gateway holds grants for (authorized), and the "
        "most it holds (limit, --max_identities).",
        {{{{"kind", "authorized"}}, d(s.identities->size())},
         {{{"kind", "limit"}}, d(s.max_identities)}}));
  }
  const SessionManager::AttachedStreams streams =
      s.sessions->attached_streams();
  out.push_back(GaugeFamily(
      "snaptun_packet_streams",
      "StreamPackets streams attached now, by the role of their tunnel (one "
      "per tunnel at most).",
      {{{{"role", "client"}}, d(streams.client)},
       {{{"role", "gateway"}}, d(streams.gateway)}}));
  out.push_back(GaugeFamily(
      "snaptun_watchers",
      "WatchTunnels streams open now (open), and the most accepted at once "
      "(limit, --max_watchers).",
      {{{{"kind", "open"}}, d(s.sessions->watchers())},
       {{{"kind", "limit"}}, d(s.max_watchers)}}));
  out.push_back(GaugeFamily(
      "snaptun_queue_budget_bytes",
      "Bytes of queued packets the tunnel ports hold together (used), and "
      "the most they may (limit, --queue_budget_bytes).",
      {{{{"kind", "used"}}, d(s.queue_budget->used())},
       {{{"kind", "limit"}}, d(s.queue_budget->limit())}}));
  out.push_back(CounterFamily(
      "snaptun_queue_budget_refusals_total",
      "Packets refused because the shared queue budget was spent (counted "
      "also as receive_queue_full drops, or as a full send queue).",
      {{{}, d(s.queue_budget->refused())}}));
  return out;
}

}  // namespace snaptun::service
