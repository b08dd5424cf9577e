// For tests of label lists (drop reasons, handshake failures, lifecycle
// states): the form a Prometheus label value takes here.
#ifndef SNAPTUN_TESTS_TESTING_LABELS_H_
#define SNAPTUN_TESTS_TESTING_LABELS_H_

#include "absl/strings/string_view.h"

namespace snaptun::testing {

// Lower-case letters and inner underscores: "receive_queue_full".
inline bool IsSnakeCase(absl::string_view label) {
  if (label.empty() || label.front() == '_' || label.back() == '_') {
    return false;
  }
  for (char c : label) {
    if (!((c >= 'a' && c <= 'z') || c == '_')) return false;
  }
  return true;
}

}  // namespace snaptun::testing

#endif  // SNAPTUN_TESTS_TESTING_LABELS_H_
