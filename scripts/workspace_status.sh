#!/usr/bin/env bash
# Bazel's --workspace_status_command (.bazelrc): the git revision the build
# comes from, for snaptund --version and snaptun_build_info. Prints
# "unknown" outside a git checkout.
revision="$(git rev-parse --short=12 HEAD 2>/dev/null || true)"
echo "STABLE_SNAPTUN_REVISION ${revision:-unknown}"
