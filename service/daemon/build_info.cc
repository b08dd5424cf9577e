// The revision comes from a stamped genrule's output (BUILD.bazel).
#include "service/daemon/build_info.h"

namespace snaptun::service {

const char* BuildRevision() {
  static constexpr char kRevision[] =
#include "service/daemon/build_revision.inc"
      ;
  return kRevision[0] == '\0' ? "unknown" : kRevision;
}

}  // namespace snaptun::service
