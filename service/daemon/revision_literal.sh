#!/usr/bin/env bash
# Prints the stamped git revision as a C string literal (the genrule
# :build_revision): "" when Bazel's stable status has none.
#   revision_literal.sh bazel-out/stable-status.txt
revision="$(sed -n 's/^STABLE_SNAPTUN_REVISION //p' "$1" 2>/dev/null | tr -cd '0-9a-z')"
printf '"%s"\n' "$revision"
