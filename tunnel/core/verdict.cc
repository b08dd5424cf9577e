// Label names of drop reasons and handshake failures, read from the lists
// in verdict.h.
#include "tunnel/core/verdict.h"

#include <array>

namespace snaptun::core {
namespace {

#define SNAPTUN_VERDICT_LABEL(name, label, ...) label,
constexpr std::array<absl::string_view, kDropReasonCount> kDropReasonNames = {
    "none", SNAPTUN_DROP_REASONS(SNAPTUN_VERDICT_LABEL)};
constexpr std::array<absl::string_view, kHandshakeFailureCount>
    kHandshakeFailureNames = {
        "none", SNAPTUN_HANDSHAKE_FAILURES(SNAPTUN_VERDICT_LABEL)};
#undef SNAPTUN_VERDICT_LABEL

#define SNAPTUN_VERDICT_DROP(name, label, drop) DropReason::drop,
constexpr std::array<DropReason, kHandshakeFailureCount> kDropForFailure = {
    DropReason::kNone, SNAPTUN_HANDSHAKE_FAILURES(SNAPTUN_VERDICT_DROP)};
#undef SNAPTUN_VERDICT_DROP

}  // namespace

absl::string_view DropReasonName(DropReason reason) {
  const auto i = static_cast<size_t>(reason);
  return i < kDropReasonCount ? kDropReasonNames[i] : "unknown";
}

absl::string_view HandshakeFailureName(HandshakeFailure failure) {
  const auto i = static_cast<size_t>(failure);
  return i < kHandshakeFailureCount ? kHandshakeFailureNames[i] : "unknown";
}

DropReason DropReasonFor(HandshakeFailure failure) {
  const auto i = static_cast<size_t>(failure);
  return i < kHandshakeFailureCount ? kDropForFailure[i]
                                    : DropReason::kInvalidPacket;
}

}  // namespace snaptun::core
