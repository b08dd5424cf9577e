// Label validation shared by the services.
#include "service/api/labels.h"

#include "absl/strings/str_cat.h"
#include "service/error_reason.h"

namespace snaptun::service {

absl::Status ValidateLabels(
    const google::protobuf::Map<std::string, std::string>& labels) {
  if (labels.size() > kMaxLabels) {
    return InvalidField("labels",
                        absl::StrCat("at most ", kMaxLabels, " labels"));
  }
  for (const auto& [k, v] : labels) {
    if (k.empty() || k.size() > 63 || v.size() > 256) {
      return InvalidField(
          "labels",
          "label keys must be 1-63 bytes and values at most 256 bytes");
    }
  }
  return absl::OkStatus();
}

}  // namespace snaptun::service
