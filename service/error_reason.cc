// Reasons and fields as absl::Status payloads.
#include "service/error_reason.h"

#include "absl/strings/cord.h"
#include "absl/types/optional.h"

namespace snaptun::service {
namespace {

constexpr char kReasonUrl[] = "type.snaptun.io/reason";
constexpr char kFieldUrl[] = "type.snaptun.io/field";

std::optional<std::string> Payload(const absl::Status& status,
                                   absl::string_view url) {
  absl::optional<absl::Cord> payload = status.GetPayload(url);
  if (!payload.has_value()) return std::nullopt;
  return std::string(*payload);
}

}  // namespace

absl::Status WithReason(absl::Status status, absl::string_view reason) {
  if (!status.ok()) status.SetPayload(kReasonUrl, absl::Cord(reason));
  return status;
}

std::optional<std::string> ReasonOf(const absl::Status& status) {
  return Payload(status, kReasonUrl);
}

absl::Status InvalidField(absl::string_view field, absl::string_view message,
                          absl::string_view why) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kFieldUrl, absl::Cord(field));
  return WithReason(std::move(status), why);
}

std::optional<std::string> FieldOf(const absl::Status& status) {
  return Payload(status, kFieldUrl);
}

}  // namespace snaptun::service
