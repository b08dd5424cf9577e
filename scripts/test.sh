#!/usr/bin/env bash
# The README's test command: installs what is missing, checks formatting,
# function size and the API proto (buf lint and breaking), then builds and
# runs every test, plainly and under ASan+UBSan (all but the tests tagged
# no_sanitizer, see scripts/sanitizer_scope.sh), and builds and
# runs the container image with podman. Every pass runs even when an earlier
# one failed; the failing passes are listed at the end and the exit status is
# non-zero if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh

snaptun_install_packages "${SNAPTUN_PACKAGES[@]}"
snaptun_install_npm

failed=()

# Runs one named pass; records its name if it fails and carries on.
run_pass() {
  local name="$1"
  shift
  echo "== ${name}"
  if ! "$@"; then
    echo "== ${name}: FAILED"
    failed+=("${name}")
  fi
}

check_format() {
  local sources
  mapfile -t sources < <(git ls-files '*.cc' '*.h')
  if ((${#sources[@]} > 0)); then
    clang-format --dry-run --Werror "${sources[@]}" || return 1
  fi
  echo "formatting ok (${#sources[@]} files)"
}

run_pass "clang-format" check_format
run_pass "function size (service/, cli/, metrics/: 60 lines)" \
  scripts/function_size.py
run_pass "proto (buf lint, buf breaking)" scripts/proto_check.sh
run_pass "bazel test //..." bazel test //...
# Outside Bazel: building an image cannot nest inside a Bazel test. Uses the
# binaries the plain pass built; a failing test there still leaves them built.
run_pass "container image (podman)" tests/deploy/image_test.sh
run_pass "kubernetes manifests (podman kube play)" tests/deploy/kube_play_test.sh
# The sanitizer pass leaves out the tests tagged no_sanitizer; this checks
# that only tests with no C++ of ours, or listed with a reason, are.
run_pass "sanitizer scope (no_sanitizer tags)" scripts/sanitizer_scope.sh
run_pass "bazel test --config=asan //..." bazel test --config=asan //...

if ((${#failed[@]} > 0)); then
  echo "== FAILED passes (${#failed[@]}):"
  printf '   %s\n' "${failed[@]}"
  exit 1
fi
echo "== all passes succeeded"
