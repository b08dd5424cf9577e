#!/usr/bin/env bash
# Builds the container image with podman (no Docker daemon) from the
# binaries the test command just built, checks it runs as a non-root user,
# and runs `snaptund --version` and `snaptund --self_check` in it. Run by
# scripts/test.sh outside Bazel (the image build cannot nest in a Bazel
# test). Needs root for podman here; installs podman and runc when missing.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
IMAGE="localhost/snaptun:test-$$"
WORK="$(mktemp -d)"
cleanup() {
  podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export CONTAINERS_CONF="$ROOT/deploy/image/containers.conf"
SNAPTUND="$ROOT/bazel-bin/service/daemon/snaptund" \
  SNAPTUNCTL="$ROOT/bazel-bin/cli/snaptunctl" \
  "$ROOT/deploy/image/build.sh" "$IMAGE"
user="$(podman image inspect --format '{{.Config.User}}' "$IMAGE")"
[[ "$user" == "65532:65532" ]] || { echo "image user is '$user'" >&2; exit 1; }
podman run --rm "$IMAGE" --version | grep -q '^snaptund '
podman run --rm --network=none "$IMAGE" --self_check
echo PASS
