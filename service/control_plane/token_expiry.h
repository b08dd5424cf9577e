// When a SNAP token (a JWT) expires: the `exp` claim of its payload, read
// without verifying the signature (the control plane verifies it; snaptun
// only needs to know how long a renewal is worth retrying). nullopt for a
// token that is not a JWT or carries no numeric `exp`.
#ifndef SNAPTUN_SERVICE_CONTROL_PLANE_TOKEN_EXPIRY_H_
#define SNAPTUN_SERVICE_CONTROL_PLANE_TOKEN_EXPIRY_H_

#include <optional>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace snaptun::service {

std::optional<absl::Time> TokenExpiry(absl::string_view token);

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_CONTROL_PLANE_TOKEN_EXPIRY_H_
