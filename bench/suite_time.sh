#!/usr/bin/env bash
# Times the test suite at two commits on this machine, so a change's effect
# on the suite is measured against a baseline taken in the same run (these
# machines are too noisy to compare with a figure from another day).
#
#   bench/suite_time.sh [BASE [HEAD]]     defaults: 51351a2 (the commit
#                                         before issue 16) and HEAD
#
# Each commit gets a detached worktree of its own under $SUITE_TIME_DIR
# (default /tmp/snaptun-suite-time; a rerun reuses its Bazel output base).
# For each commit and each pass of scripts/test.sh (plain, --config=asan) it
# builds every target first, then runs `bazel test --nocache_test_results`
# and reports the tests run, the sum of their times ("PASSED in") and the
# wall time of that test run. Building is left out: it depends on the cache,
# not on the tests. Installs what scripts/test.sh installs (scripts/deps.sh).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
base="${1:-51351a2}"
head="${2:-HEAD}"
root="${SUITE_TIME_DIR:-/tmp/snaptun-suite-time}"
mkdir -p "$root"
# What the test command installs (packages, npm), this checkout's first.
(
  source "$repo/scripts/deps.sh"
  snaptun_install_packages "${SNAPTUN_PACKAGES[@]}"
  snaptun_install_npm
) >&2

# Prints "TESTS SUM_SECONDS" from a `bazel test` log; fails on any failure.
sum_tests() {
  if grep -q "FAILED in\|TIMEOUT in\|NO STATUS" "$1"; then
    echo "a test failed; see $1" >&2
    return 1
  fi
  awk '/PASSED in/ { n++; t = $NF; sub("s", "", t); s += t }
       END { printf "%d %.1f\n", n, s }' "$1"
}

# worktree COMMIT: prints the directory of a worktree checked out at COMMIT.
worktree() {
  local sha dir
  sha="$(git -C "$repo" rev-parse --short=12 "$1^{commit}")"
  dir="$root/$sha"
  if [[ ! -d "$dir" ]]; then
    git -C "$repo" worktree add --detach -f "$dir" "$sha" >/dev/null 2>&1
  fi
  # The npm packages (buf, google-proto-files) of this checkout serve the
  # other when the lock files agree; otherwise the worktree installs its own.
  local npm="third_party/npm"
  if [[ ! -e "$dir/$npm/node_modules" ]]; then
    if cmp -s "$repo/$npm/package-lock.json" "$dir/$npm/package-lock.json"; then
      ln -s "$repo/$npm/node_modules" "$dir/$npm/node_modules"
    else
      (cd "$dir" && source scripts/deps.sh && snaptun_install_npm) >&2
    fi
  fi
  echo "$dir"
}

# measure DIR NAME [BAZEL FLAGS...]: one pass at one commit.
measure() {
  local dir="$1" name="$2" log start end
  shift 2
  log="$root/$(basename "$dir")-$name.log"
  if ! (cd "$dir" && bazel build "$@" //... >"$log" 2>&1); then
    echo "$(basename "$dir") $name: the build failed; see $log" >&2
    return 1
  fi
  start="$(date +%s.%N)"
  (cd "$dir" && bazel test --nocache_test_results "$@" //... >"$log" 2>&1) ||
    true
  end="$(date +%s.%N)"
  counts="$(sum_tests "$log")"
  awk -v c="$(basename "$dir")" -v p="$name" -v n="${counts% *}" \
    -v s="${counts#* }" -v a="$start" -v b="$end" 'BEGIN {
      printf "%-12s %-6s %3d tests  sum %7.1f s  wall %6.1f s\n", c, p, n, s, b - a
    }'
}

for commit in "$base" "$head"; do
  dir="$(worktree "$commit")"
  measure "$dir" plain
  measure "$dir" asan --config=asan
  (cd "$dir" && bazel shutdown >/dev/null 2>&1) || true
done
