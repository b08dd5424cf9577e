// Status codes by name and reasons from the details.
#include "cli/errors.h"

#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace snaptun::cli {

std::string CodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {
      "OK",
      "CANCELLED",
      "UNKNOWN",
      "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED",
      "NOT_FOUND",
      "ALREADY_EXISTS",
      "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION",
      "ABORTED",
      "OUT_OF_RANGE",
      "UNIMPLEMENTED",
      "INTERNAL",
      "UNAVAILABLE",
      "DATA_LOSS",
      "UNAUTHENTICATED",
  };
  const int index = static_cast<int>(code);
  if (index < 0 || index >= static_cast<int>(std::size(kNames))) {
    return absl::StrCat("CODE_", index);
  }
  return kNames[index];
}

std::string ReasonOf(const grpc::Status& status) {
  google::rpc::Status details;
  if (status.error_details().empty() ||
      !details.ParseFromString(status.error_details())) {
    return "";
  }
  for (const google::protobuf::Any& any : details.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) return info.reason();
  }
  return "";
}

std::string Describe(const grpc::Status& status) {
  const std::string reason = ReasonOf(status);
  return absl::StrCat(
      CodeName(status.error_code()), ": ", status.error_message(),
      reason.empty() ? "" : absl::StrCat(" (reason ", reason, ")"));
}

}  // namespace snaptun::cli
