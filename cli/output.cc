// Tables and JSON.
#include "cli/output.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"

namespace snaptun::cli {
namespace {

// "established" for TUNNEL_STATE_ESTABLISHED.
std::string StateName(v1::TunnelState state) {
  std::string name = v1::TunnelState_Name(state);
  constexpr absl::string_view kPrefix = "TUNNEL_STATE_";
  if (absl::StartsWith(name, kPrefix)) name = name.substr(kPrefix.size());
  std::transform(name.begin(), name.end(), name.begin(), ::tolower);
  return name;
}

std::string When(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0) return "-";
  return absl::FormatTime("%H:%M:%S", absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

}  // namespace

std::string ToJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options)
           .ok()) {
    return "{}";
  }
  return out;
}

std::string Base64Key(const std::string& bytes) {
  return absl::Base64Escape(bytes);
}

size_t DisplayWidth(absl::string_view text) {
  size_t width = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++width;  // Not a UTF-8 continuation byte.
  }
  return width;
}

std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  }
  std::string out;
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size())
        out += std::string(widths[i] - DisplayWidth(row[i]) + 2, ' ');
    }
    out += "\n";
  }
  return out;
}

std::string GatewayInfoTable(const v1::GetGatewayInfoResponse& info) {
  return Table({{"PUBLIC KEY", "LISTENING", "TUNNELS", "IDENTITIES"},
                {Base64Key(info.public_key()),
                 absl::StrJoin(info.listen_addresses(), ","),
                 absl::StrCat(info.tunnel_count()),
                 absl::StrCat(info.identity_count())}});
}

std::string TunnelTable(const std::vector<const v1::Tunnel*>& tunnels) {
  std::vector<std::vector<std::string>> rows = {
      {"TUNNEL", "ROLE", "STATE", "MODE", "PEER", "REMOTE", "LOCAL", "TX", "RX",
       "HANDSHAKE"}};
  for (const v1::Tunnel* t : tunnels) {
    const auto& c = t->counters();
    rows.push_back({t->tunnel_id(),
                    t->role() == v1::ROLE_GATEWAY ? "gateway" : "client",
                    StateName(t->state()),
                    t->mode() == v1::MODE_WIREGUARD ? "wireguard" : "snap",
                    Base64Key(t->peer_public_key()).substr(0, 12) + "…",
                    t->remote_address(),
                    t->local_address().empty() ? "-" : t->local_address(),
                    absl::StrCat(c.tx_packets(), "/", c.tx_bytes(), "B"),
                    absl::StrCat(c.rx_packets(), "/", c.rx_bytes(), "B"),
                    When(t->last_handshake_at())});
  }
  return Table(rows);
}

std::string IdentityTable(const std::vector<const v1::Identity*>& identities) {
  std::vector<std::vector<std::string>> rows = {
      {"PUBLIC KEY", "EXPIRES", "TUNNELS"}};
  for (const v1::Identity* i : identities) {
    rows.push_back({Base64Key(i->public_key()),
                    i->has_expires_at()
                        ? absl::FormatTime(
                              absl::FromUnixSeconds(i->expires_at().seconds()),
                              absl::UTCTimeZone())
                        : "never",
                    absl::StrCat(i->tunnel_count())});
  }
  return Table(rows);
}

}  // namespace snaptun::cli
