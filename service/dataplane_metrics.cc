// Creates every family and series of PRODUCT.md §5 and keeps the handles.
#include "service/dataplane_metrics.h"

#include <string>

namespace snaptun::service {
namespace {

// Handshakes take a round trip, or several retransmissions of 5 s each.
const std::vector<double> kHandshakeBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25,   0.5,   1,      2.5,   5,    10,    30,   90};

}  // namespace

DataPlaneMetrics::DataPlaneMetrics(metrics::Registry& registry) {
  auto& initiated = registry.AddCounter(
      "snaptun_handshakes_initiated_total",
      "Handshake initiations sent, first attempts and retransmissions.");
  auto& completed =
      registry.AddCounter("snaptun_handshakes_completed_total",
                          "Handshakes that produced a usable session.");
  auto& failures = registry.AddCounter(
      "snaptun_handshake_failures_total",
      "Handshake messages refused, and handshakes that timed out, by reason.");
  auto& duration = registry.AddHistogram(
      "snaptun_handshake_duration_seconds",
      "Time from the first initiation to a usable session.", kHandshakeBuckets);
  auto& packets = registry.AddCounter(
      "snaptun_packets_total", "Payload packets carried through tunnels.");
  auto& bytes = registry.AddCounter("snaptun_bytes_total",
                                    "Payload bytes carried through tunnels.");
  auto& drops = registry.AddCounter(
      "snaptun_packets_dropped_total",
      "Packets and datagrams dropped, by the reason they were dropped.");
  auto& tunnels =
      registry.AddGauge("snaptun_tunnels", "Tunnels currently held, by state.");
  auto& receive_errors = registry.AddCounter(
      "snaptun_socket_receive_errors_total",
      "Reads of a data-plane socket that failed with an error other than "
      "EAGAIN or an ICMP report; each pauses reading the socket, longer each "
      "time while they persist.");
  auto& buffers = registry.AddGauge(
      "snaptun_socket_buffer_bytes",
      "Kernel buffers of the data-plane sockets: the size asked for "
      "(--socket_*_buffer_kib) and the size granted (capped by "
      "net.core.rmem_max / wmem_max unless the process has CAP_NET_ADMIN); "
      "0 until the role opened a socket.");
  for (Role role : {Role::kClient, Role::kGateway}) {
    const std::string name = role == Role::kClient ? "client" : "gateway";
    RoleMetrics& m = this->role(role);
    m.handshakes_initiated = &initiated.Add({{"role", name}});
    m.handshakes_completed = &completed.Add({{"role", name}});
    for (size_t i = 1; i < core::kHandshakeFailureCount; ++i) {
      m.failures[i] = &failures.Add(
          {{"role", name},
           {"reason", std::string(core::HandshakeFailureName(
                          static_cast<core::HandshakeFailure>(i)))}});
    }
    m.handshake_duration = &duration.Add({{"role", name}});
    m.packets_tx = &packets.Add({{"role", name}, {"direction", "tx"}});
    m.packets_rx = &packets.Add({{"role", name}, {"direction", "rx"}});
    m.bytes_tx = &bytes.Add({{"role", name}, {"direction", "tx"}});
    m.bytes_rx = &bytes.Add({{"role", name}, {"direction", "rx"}});
    for (size_t i = 1; i < core::kDropReasonCount; ++i) {
      m.drops[i] =
          &drops.Add({{"role", name},
                      {"reason", std::string(core::DropReasonName(
                                     static_cast<core::DropReason>(i)))}});
    }
    m.tunnels[0] = &tunnels.Add({{"role", name}, {"state", "connecting"}});
    m.tunnels[1] = &tunnels.Add({{"role", name}, {"state", "established"}});
    m.tunnels[2] = &tunnels.Add({{"role", name}, {"state", "reconnecting"}});
    m.receive_errors = &receive_errors.Add({{"role", name}});
    size_t b = 0;
    for (const char* buffer : {"receive", "send"}) {
      for (const char* kind : {"requested", "granted"}) {
        m.socket_buffers[b++] =
            &buffers.Add({{"role", name}, {"buffer", buffer}, {"kind", kind}});
      }
    }
  }
  auto& cookies = registry.AddCounter("snaptun_cookie_replies_total",
                                      "Cookie replies sent and received.");
  cookies_sent_ = &cookies.Add({{"direction", "sent"}});
  cookies_received_ = &cookies.Add({{"direction", "received"}});
  reconnects_ = &registry
                     .AddCounter("snaptun_reconnects_total",
                                 "Client tunnels re-established after losing "
                                 "their session.")
                     .Add({});
  registrations_ = &registry.AddCounter(
      "snaptun_control_plane_registrations_total",
      "Identity registrations with a SNAP control plane, by result.");
}

}  // namespace snaptun::service
