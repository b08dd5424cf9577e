// One family per limit, each with its use and its limit side by side, so a
// dashboard or an alert divides one by the other.
#include "service/daemon/saturation_metrics.h"

#include "metrics/exposition.h"

namespace snaptun::service {

std::vector<prometheus::MetricFamily> CollectSaturation(
    const SaturationSources& sources) {
  using metrics::CounterFamily;
  using metrics::GaugeFamily;
  std::vector<prometheus::MetricFamily> out;
  auto d = [](size_t v) { return static_cast<double>(v); };
  out.push_back(GaugeFamily(
      "snaptun_tunnel_quota",
      "Tunnels of both roles held now (used), and the most the daemon holds "
      "(limit, --max_tunnels, shared by client and gateway tunnels).",
      {{{{"kind", "used"}}, d(sources.quota->held())},
       {{{"kind", "limit"}}, d(sources.quota->limit())}}));
  const SessionManager::Occupancy occupancy = sources.sessions->occupancy();
  out.push_back(GaugeFamily(
      "snaptun_tunnels_per_identity",
      "Tunnels held by the one peer key that holds the most (busiest: on a "
      "client, to one gateway key; on a gateway, from one client identity), "
      "and the most one key may hold (limit, --max_tunnels_per_identity).",
      {{{{"role", "client"}, {"kind", "busiest"}},
        d(occupancy.client.busiest_peer)},
       {{{"role", "gateway"}, {"kind", "busiest"}},
        d(occupancy.gateway.busiest_peer)},
       {{{"role", "client"}, {"kind", "limit"}},
        d(sources.max_tunnels_per_identity)},
       {{{"role", "gateway"}, {"kind", "limit"}},
        d(sources.max_tunnels_per_identity)}}));
  if (sources.identities != nullptr) {
    out.push_back(GaugeFamily(
        "snaptun_identities",
        "Client identities a gateway holds grants for (authorized), and the "
        "most it holds (limit, --max_identities).",
        {{{{"kind", "authorized"}}, d(sources.identities->size())},
         {{{"kind", "limit"}}, d(sources.max_identities)}}));
  }
  out.push_back(GaugeFamily(
      "snaptun_packet_streams",
      "StreamPackets streams attached now, by the role of their tunnel (one "
      "per tunnel at most).",
      {{{{"role", "client"}}, d(occupancy.client.streams)},
       {{{"role", "gateway"}}, d(occupancy.gateway.streams)}}));
  out.push_back(GaugeFamily(
      "snaptun_watchers",
      "WatchTunnels streams open now (open), and the most accepted at once "
      "(limit, --max_watchers).",
      {{{{"kind", "open"}}, d(sources.sessions->watchers())},
       {{{"kind", "limit"}}, d(sources.max_watchers)}}));
  out.push_back(GaugeFamily(
      "snaptun_queue_budget_bytes",
      "Bytes of queued packets the tunnel ports hold together (used), and "
      "the most they may (limit, --queue_budget_bytes).",
      {{{{"kind", "used"}}, d(sources.queue_budget->used())},
       {{{"kind", "limit"}}, d(sources.queue_budget->limit())}}));
  out.push_back(CounterFamily(
      "snaptun_queue_budget_refusals_total",
      "Packets refused because the shared queue budget was spent (counted "
      "also as receive_queue_full drops, or as a full send queue).",
      {{{}, d(sources.queue_budget->refused())}}));
  return out;
}

}  // namespace snaptun::service
