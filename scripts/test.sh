#!/usr/bin/env bash
# The README's test command: installs what is missing, checks formatting, then
# builds and runs every test, plainly and under ASan+UBSan, and builds and
# runs the container image with podman. Prints Bazel's
# test summary. Exit status is non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh

snaptun_install_packages "${SNAPTUN_PACKAGES[@]}"

echo "== clang-format"
mapfile -t sources < <(git ls-files '*.cc' '*.h')
if ((${#sources[@]} > 0)); then
  clang-format --dry-run --Werror "${sources[@]}"
fi
echo "formatting ok (${#sources[@]} files)"

echo "== bazel test //..."
bazel test //...

echo "== container image (podman)"
# Outside Bazel: building an image cannot nest inside a Bazel test. Uses the
# binaries the plain pass just built.
tests/deploy/image_test.sh

echo "== bazel test --config=asan //..."
bazel test --config=asan //...
