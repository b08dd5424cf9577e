#!/usr/bin/env bash
# Builds the container image with podman (no Docker daemon) from the
# binaries the test command just built, checks it runs as a non-root user,
# holds the CA bundle and resolves names through /etc/hosts and then DNS
# (a one-name DNS server on a podman network of its own answers getent,
# run with the image's libc and nsswitch.conf), and runs
# `snaptund --version` and `snaptund --self_check` in it. Run by
# scripts/test.sh outside Bazel (the image build cannot nest in a Bazel
# test). Needs root for podman here; installs podman and runc when missing.
# SNAPTUND and SNAPTUNCTL name the binaries (default: bazel-bin's).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
IMAGE="localhost/snaptun:test-$$"
NET="snaptun-image-test-$$"
WORK="$(mktemp -d)"
DNS_PID=""
cleanup() {
  [[ -n "$DNS_PID" ]] && kill "$DNS_PID" 2>/dev/null
  podman network rm -f "$NET" >/dev/null 2>&1 || true
  podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export CONTAINERS_CONF="$ROOT/deploy/image/containers.conf"
SNAPTUND="${SNAPTUND:-$ROOT/bazel-bin/service/daemon/snaptund}" \
  SNAPTUNCTL="${SNAPTUNCTL:-$ROOT/bazel-bin/cli/snaptunctl}" \
  "$ROOT/deploy/image/build.sh" "$IMAGE"
user="$(podman image inspect --format '{{.Config.User}}' "$IMAGE")"
[[ "$user" == "65532:65532" ]] || { echo "image user is '$user'" >&2; exit 1; }
podman run --rm "$IMAGE" --version | grep -q '^snaptund '
podman run --rm --network=none "$IMAGE" --self_check

echo "--- the root filesystem: CA bundle, nsswitch.conf, resolv.conf"
ctr="$(podman create "$IMAGE")"
podman export "$ctr" | tar -x -C "$WORK" etc
podman rm "$ctr" >/dev/null
cmp "$WORK/etc/ssl/certs/ca-certificates.crt" /etc/ssl/certs/ca-certificates.crt
grep -qx 'hosts: files dns' "$WORK/etc/nsswitch.conf"
[[ -f "$WORK/etc/resolv.conf" ]]

echo "--- names resolve through DNS inside the image"
# A network of our own: its gateway address is where the DNS stub listens.
SUBNET_PREFIX="10.231.$((RANDOM % 200 + 20))"
podman network create --subnet "$SUBNET_PREFIX.0/24" "$NET" >/dev/null
python3 "$ROOT/tests/deploy/dns_stub.py" "$SUBNET_PREFIX.1" \
  control-plane.snaptun.test 192.0.2.7 >"$WORK/dns.log" 2>&1 &
DNS_PID=$!
for _ in $(seq 100); do
  grep -q listening "$WORK/dns.log" && break
  sleep 0.1
done
resolve() {
  timeout 60 podman run --rm --network="$NET" --dns="$SUBNET_PREFIX.1" \
    -v /usr/bin/getent:/getent:ro --entrypoint /getent "$IMAGE" ahostsv4 "$1"
}
resolve control-plane.snaptun.test | grep -q '^192\.0\.2\.7 '
resolve localhost | grep -q '^127\.0\.0\.1 '  # /etc/hosts first.
if resolve elsewhere.snaptun.test >/dev/null 2>&1; then
  echo "a name the DNS server does not know resolved" >&2
  exit 1
fi
echo PASS
