// snaptunctl's output: aligned tables for people, JSON (the proto's JSON
// mapping) for scripts.
#ifndef SNAPTUN_CLI_OUTPUT_H_
#define SNAPTUN_CLI_OUTPUT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "proto/snaptun/v1/snaptun.pb.h"

namespace snaptun::cli {

std::string ToJson(const google::protobuf::Message& message);
std::string Base64Key(const std::string& bytes);
std::string TunnelTable(const std::vector<const v1::Tunnel*>& tunnels);
std::string IdentityTable(const std::vector<const v1::Identity*>& identities);
// Rows of cells, the first row the header, padded to column widths.
// Columns are aligned by display width (UTF-8 characters), not bytes.
std::string Table(const std::vector<std::vector<std::string>>& rows);
size_t DisplayWidth(absl::string_view text);
std::string GatewayInfoTable(const v1::GetGatewayInfoResponse& info);

}  // namespace snaptun::cli

#endif  // SNAPTUN_CLI_OUTPUT_H_
