// PacketPolicy: the SCION ingress check and the per-ISD-AS counts.
#include "service/packet_policy.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tunnel/scion/packet.h"

namespace snaptun::service {
namespace {

// The packet's SCION source is `remote`: the host address always, the port
// where the L4 header has one (UDP's source port, an informational SCMP
// message's identifier).
bool SourceMatches(const scion::PacketView& view,
                   const core::Endpoint& remote) {
  const std::optional<core::Endpoint> source = scion::SourceEndpoint(view);
  if (!source.has_value() || source->is_ipv4() != remote.is_ipv4() ||
      source->address() != remote.address()) {
    return false;
  }
  const bool has_port =
      view.l4 == scion::L4::kUdp ||
      (view.l4 == scion::L4::kScmp && view.scmp_identifier.has_value());
  return !has_port || source->port() == remote.port();
}

}  // namespace

absl::StatusOr<PacketPolicyKind> ParsePacketPolicyKind(absl::string_view text) {
  if (text == "none") return PacketPolicyKind::kNone;
  if (text == "scion") return PacketPolicyKind::kScion;
  return absl::InvalidArgumentError(absl::StrCat(
      "--gateway_packet_policy must be none or scion, got \"", text, "\""));
}

absl::StatusOr<std::vector<scion::IsdAs>> ParseAccountedIas(
    absl::string_view text) {
  std::vector<scion::IsdAs> out;
  if (absl::StripAsciiWhitespace(text).empty()) return out;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    item = absl::StripAsciiWhitespace(item);
    const std::optional<scion::IsdAs> ia = scion::IsdAs::Parse(item);
    if (!ia.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--gateway_ia_accounting: \"", item,
                       "\" is not an ISD-AS such as 1-ff00:0:110 or 1-64512"));
    }
    for (const scion::IsdAs& seen : out) {
      if (seen == *ia) {
        return absl::InvalidArgumentError(
            absl::StrCat("--gateway_ia_accounting lists ", item, " twice"));
      }
    }
    out.push_back(*ia);
  }
  if (out.size() > kMaxAccountedIas) {
    return absl::InvalidArgumentError(
        absl::StrCat("--gateway_ia_accounting lists ", out.size(),
                     " ISD-ASes; at most ", kMaxAccountedIas));
  }
  return out;
}

PacketPolicy::PacketPolicy(PacketPolicyKind kind,
                           std::vector<scion::IsdAs> accounted,
                           metrics::WorkerMetrics* metrics)
    : kind_(kind) {
  if (metrics == nullptr || accounted.empty()) return;
  auto& packets = metrics->AddCounter(
      "snaptun_gateway_ia_packets_total",
      "Packets of gateway tunnels by the far side's ISD-AS: the destination "
      "of what clients send (direction=ingress), the source of what they "
      "receive (egress); ISD-ASes not in --gateway_ia_accounting are "
      "ia=\"other\".");
  auto& bytes =
      metrics->AddCounter("snaptun_gateway_ia_bytes_total",
                          "Payload bytes of snaptun_gateway_ia_packets_total.");
  for (size_t i = 0; i <= accounted.size(); ++i) {
    const std::string ia =
        i < accounted.size() ? accounted[i].ToString() : "other";
    if (i < accounted.size()) index_[accounted[i]] = i;
    for (const char* direction : {"ingress", "egress"}) {
      const metrics::Labels labels{{"direction", direction}, {"ia", ia}};
      series_[direction[0] == 'i' ? kIngress : kEgress].push_back(
          Series{&packets.Add(labels), &bytes.Add(labels)});
    }
  }
}

void PacketPolicy::Account(Direction direction, const scion::IsdAs& ia,
                           size_t bytes, size_t worker) const {
  const std::vector<Series>& series = series_[direction];
  auto it = index_.find(ia);
  const Series& s = series[it == index_.end() ? series.size() - 1 : it->second];
  s.packets->Increment(1, worker);
  s.bytes->Increment(bytes, worker);
}

core::DropReason PacketPolicy::CheckIngress(absl::Span<const uint8_t> payload,
                                            const core::Endpoint& remote,
                                            size_t worker) const {
  if (kind_ != PacketPolicyKind::kScion) return core::DropReason::kNone;
  scion::PacketView view;
  if (scion::Parse(payload, view) != scion::ParseError::kNone) {
    return core::DropReason::kMalformedPacket;
  }
  if (view.path_type != static_cast<uint8_t>(scion::PathType::kScion) &&
      view.path_type != static_cast<uint8_t>(scion::PathType::kEmpty)) {
    return core::DropReason::kInvalidPathType;
  }
  if (!SourceMatches(view, remote)) {
    return core::DropReason::kInvalidSourceAddress;
  }
  if (accounting()) Account(kIngress, view.dst_ia, payload.size(), worker);
  return core::DropReason::kNone;
}

void PacketPolicy::CountEgress(absl::Span<const uint8_t> payload,
                               size_t worker) const {
  if (!accounting()) return;
  scion::PacketView view;
  if (scion::Parse(payload, view) != scion::ParseError::kNone) return;
  Account(kEgress, view.src_ia, payload.size(), worker);
}

}  // namespace snaptun::service
