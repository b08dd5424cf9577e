#!/usr/bin/env bash
# Checks which tests the ASan+UBSan pass leaves out (tag no_sanitizer, which
# --config=asan filters): a test that runs C++ of ours may be left out only
# when it is listed below with its reason, and a test that runs none must be
# left out (the sanitizers would repeat the plain pass's run of it).
set -euo pipefail
cd "$(dirname "$0")/.."

# Runs C++ of ours, not under the sanitizers, and why.
#   //tests/abuse:soak_test: its RSS limits do not hold under ASan's
#   quarantine.
allowed=("//tests/abuse:soak_test")

tests='kind(test, //...)'
cc="rdeps(${tests}, kind(\"cc_(binary|library|test)\", //...))"
skipped="attr(tags, \"\\bno_sanitizer\\b\", ${tests})"

query() { bazel query --noshow_progress "$1" | sort; }

# Queried first, so a failing query fails the check.
skipped_cc="$(query "${skipped} intersect ${cc}")"
untagged="$(query "${tests} except ${cc} except ${skipped}")"
left_out="$(query "${skipped}")"

status=0
for target in ${skipped_cc}; do
  if [[ ! " ${allowed[*]} " =~ " ${target} " ]]; then
    echo "$target runs C++ of ours but is tagged no_sanitizer" >&2
    status=1
  fi
done
for target in ${untagged}; do
  echo "$target runs no C++ of ours: tag it no_sanitizer" >&2
  status=1
done
if ((status == 0)); then
  echo "sanitizer scope ok; left out:" ${left_out}
fi
exit "$status"
