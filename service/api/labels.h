// The rules every label map the API accepts must follow (OpenTunnel and
// AuthorizeIdentity alike): at most 64 labels, keys of 1-63 bytes, values
// of at most 256 bytes.
#ifndef SNAPTUN_SERVICE_API_LABELS_H_
#define SNAPTUN_SERVICE_API_LABELS_H_

#include <string>

#include "absl/status/status.h"
#include "google/protobuf/map.h"

namespace snaptun::service {

inline constexpr size_t kMaxLabels = 64;

// INVALID_ARGUMENT naming the rule broken, or OK.
absl::Status ValidateLabels(
    const google::protobuf::Map<std::string, std::string>& labels);

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_API_LABELS_H_
