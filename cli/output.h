// snaptunctl's output: aligned tables for people, JSON (the proto's JSON
// mapping) for scripts.
#ifndef SNAPTUN_CLI_OUTPUT_H_
#define SNAPTUN_CLI_OUTPUT_H_

#include <string>
#include <vector>

#include "google/protobuf/message.h"
#include "proto/snaptun/v1/snaptun.pb.h"

namespace snaptun::cli {

std::string ToJson(const google::protobuf::Message& message);
std::string Base64Key(const std::string& bytes);
std::string TunnelTable(const std::vector<const v1::Tunnel*>& tunnels);
std::string IdentityTable(const std::vector<const v1::Identity*>& identities);
// Rows of cells, the first row the header, padded to column widths.
std::string Table(const std::vector<std::vector<std::string>>& rows);

}  // namespace snaptun::cli

#endif  // SNAPTUN_CLI_OUTPUT_H_
