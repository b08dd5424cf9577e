#!/usr/bin/env bash
# The main job on an embedded default: installs what is missing, builds,
# starts snaptund with a local gateway, opens a batch of client tunnels to
# that gateway through the gRPC API, streams packets both ways (the
# gateway's side echoes), prints a summary, and stops the daemon cleanly.
#
#   ./scripts/run.sh            # 16 tunnels, 2000 packets/s each, 5 s
#   TUNNELS=64 RATE=0 SECONDS_TO_RUN=10 ./scripts/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
snaptun_install_packages "${SNAPTUN_PACKAGES[@]}"
snaptun_install_npm

TUNNELS="${TUNNELS:-16}"
RATE="${RATE:-2000}"
SIZE="${SIZE:-1000}"
SECONDS_TO_RUN="${SECONDS_TO_RUN:-5}"
GRPC="${GRPC:-127.0.0.1:50051}"
METRICS="${METRICS:-127.0.0.1:9464}"
GATEWAY="${GATEWAY:-127.0.0.1:51820}"

echo "== building"
bazel build --noshow_progress //service/daemon:snaptund //cli:snaptunctl
SNAPTUND="$PWD/bazel-bin/service/daemon/snaptund"
SNAPTUNCTL="$PWD/bazel-bin/cli/snaptunctl"

WORK="$(mktemp -d)"
DAEMON=""
cleanup() {
  if [[ -n "$DAEMON" ]] && kill -0 "$DAEMON" 2>/dev/null; then
    kill -TERM "$DAEMON"; wait "$DAEMON" || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== starting snaptund (gRPC $GRPC, gateway $GATEWAY/udp, metrics $METRICS)"
"$SNAPTUND" --private_key_file="$WORK/snaptund.key" --grpc_listen="$GRPC" \
  --metrics_listen="$METRICS" --gateway_listen="$GATEWAY" \
  2>"$WORK/snaptund.log" &
DAEMON=$!
ready=""
for _ in $(seq 100); do
  if grep -q "snaptund: ready" "$WORK/snaptund.log"; then ready=1; break; fi
  kill -0 "$DAEMON" 2>/dev/null || break
  sleep 0.1
done
if [[ -z "$ready" ]]; then
  echo "snaptund did not start:" >&2
  cat "$WORK/snaptund.log" >&2
  exit 1
fi
CTL=("$SNAPTUNCTL" --server="$GRPC")
PUB="$("$SNAPTUNCTL" pubkey "$WORK/snaptund.key")"
echo "== the gateway authorizes this daemon's own identity $PUB"
"${CTL[@]}" authorize "$PUB" --label=demo=run.sh >/dev/null

echo "== opening $TUNNELS tunnels and streaming ${SIZE}-byte packets both ways for ${SECONDS_TO_RUN}s"
"${CTL[@]}" bench --peer="$PUB" --data_plane="$GATEWAY" --tunnels="$TUNNELS" \
  --rate="$RATE" --size="$SIZE" --duration="${SECONDS_TO_RUN}s" \
  2>"$WORK/bench.log" | tee "$WORK/summary.txt"

echo "== metrics at http://$METRICS/metrics, for example:"
/usr/bin/python3 - "$METRICS" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen(f"http://{sys.argv[1]}/metrics", timeout=5).read().decode()
for line in text.splitlines():
    if line.startswith(("snaptun_handshakes_completed_total", "snaptun_packets_total")):
        print("  " + line)
PY

echo "== stopping snaptund (SIGTERM drains it)"
kill -TERM "$DAEMON"
wait "$DAEMON"
status=$?
DAEMON=""
grep -E "draining|drained" "$WORK/snaptund.log" | sed 's/^/  /'
exit $status
