// The gateway's check of what its clients send, and its optional count of
// traffic by ISD-AS.
//
// With --gateway_packet_policy=scion, a payload a client sends through its
// tunnel must be a SCION packet (scion/packet.h) whose path type is SCION or
// empty, and whose source is the tunnel's remote socket address: the source
// host address is the remote IP, and the L4 source port (UDP) or SCMP
// identifier (informational SCMP) is the remote port; SCMP errors and other
// L4 protocols carry no port, so only the IP is compared for them. Anything
// else is a counted drop (malformed_packet, invalid_path_type,
// invalid_source_address). The reference compared only the IP (W20), which
// let a client speak for every other client behind the same NAT address.
//
// With an allow-list of ISD-ASes (--gateway_ia_accounting, needs the scion
// policy), packets and bytes are counted by the far side's ISD-AS: the
// destination of what clients send (ingress), the source of what they
// receive (egress). ISD-ASes not on the list share the series ia="other", so
// the label set is bounded by the list (at most kMaxAccountedIas).
#ifndef SNAPTUN_SERVICE_PACKET_POLICY_H_
#define SNAPTUN_SERVICE_PACKET_POLICY_H_

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "metrics/worker_metrics.h"
#include "tunnel/core/endpoint.h"
#include "tunnel/core/verdict.h"
#include "tunnel/scion/isd_as.h"

namespace snaptun::service {

enum class PacketPolicyKind : uint8_t { kNone, kScion };

inline constexpr size_t kMaxAccountedIas = 64;

// "none" or "scion".
absl::StatusOr<PacketPolicyKind> ParsePacketPolicyKind(absl::string_view text);
// A comma-separated list of ISD-ASes ("1-ff00:0:110,2-64512"), at most
// kMaxAccountedIas, no repeats. Empty text: an empty list.
absl::StatusOr<std::vector<scion::IsdAs>> ParseAccountedIas(
    absl::string_view text);

class PacketPolicy {
 public:
  // `metrics` may be null (no accounting then).
  PacketPolicy(PacketPolicyKind kind, std::vector<scion::IsdAs> accounted,
               metrics::WorkerMetrics* metrics);

  PacketPolicyKind kind() const { return kind_; }
  bool accounting() const { return !series_[0].empty(); }
  // A payload the client at `remote` sent: kNone when it may pass. Counts
  // it by ISD-AS when accounting is on. Worker threads.
  core::DropReason CheckIngress(absl::Span<const uint8_t> payload,
                                const core::Endpoint& remote,
                                size_t worker) const;
  // A payload sent to a client: counted by its source ISD-AS when
  // accounting is on (and it parses). Worker threads.
  void CountEgress(absl::Span<const uint8_t> payload, size_t worker) const;

 private:
  struct Series {
    metrics::WorkerCounter* packets;
    metrics::WorkerCounter* bytes;
  };
  enum Direction { kIngress = 0, kEgress = 1 };
  void Account(Direction direction, const scion::IsdAs& ia, size_t bytes,
               size_t worker) const;

  const PacketPolicyKind kind_;
  absl::flat_hash_map<scion::IsdAs, size_t> index_;
  // Per direction: one per accounted ISD-AS, then "other".
  std::vector<Series> series_[2];
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_PACKET_POLICY_H_
