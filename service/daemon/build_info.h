// What snaptund is: its version and the git revision it was built from
// (stamped by Bazel through scripts/workspace_status.sh; "unknown" when
// built outside a checkout). Only the snaptund binary links the stamped
// revision, so a new commit relinks it and nothing else.
#ifndef SNAPTUN_SERVICE_DAEMON_BUILD_INFO_H_
#define SNAPTUN_SERVICE_DAEMON_BUILD_INFO_H_

namespace snaptun::service {

inline constexpr char kSnaptunVersion[] = "0.1.0";

// The short git revision, or "unknown".
const char* BuildRevision();

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_DAEMON_BUILD_INFO_H_
