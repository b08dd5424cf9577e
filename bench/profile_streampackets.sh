#!/usr/bin/env bash
# Where a StreamPackets packet's time goes (docs/PERFORMANCE.md): runs the
# same echo as bench/api_bench.sh (4 tunnels, unpaced, through one daemon
# that is both client and gateway), records the daemon with `perf record -g`
# for the middle of the run, and prints the top of `perf report` by
# self time and by command/thread. Needs perf (Debian's linux-perf,
# installed when missing) and permission to profile (root).
# WINDOW is the client's packets in flight per tunnel (snaptunctl bench
# --window; 0 floods the stream, as the bench did before issue 20).
#   bench/profile_streampackets.sh [SIZE] [WINDOW] [OUTDIR]
#                                           defaults: 1400, 512, /tmp
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE="${1:-1400}"
WINDOW="${2:-512}"
OUT="${3:-/tmp}"
source scripts/deps.sh
snaptun_install_packages linux-perf
bazel build --noshow_progress //service/daemon:snaptund //cli:snaptunctl
WORK="$(mktemp -d)"
./bazel-bin/service/daemon/snaptund --private_key_file="$WORK/k" \
  --grpc_listen=127.0.0.1:50072 --metrics_listen=127.0.0.1:0 \
  --gateway_listen=127.0.0.1:51872 --handshakes_per_source=100000 \
  --handshakes_per_source_max=100000 --handshakes_total=100000 \
  2>"$WORK/log" &
DAEMON=$!
trap 'kill -TERM $DAEMON 2>/dev/null; wait; rm -rf "$WORK"' EXIT
sleep 1
CTL=(./bazel-bin/cli/snaptunctl --server=127.0.0.1:50072)
PUB="$(./bazel-bin/cli/snaptunctl pubkey "$WORK/k")"
"${CTL[@]}" authorize "$PUB" >/dev/null
"${CTL[@]}" bench --peer="$PUB" --data_plane=127.0.0.1:51872 --tunnels=4 \
  --rate=0 --size="$SIZE" --window="$WINDOW" --duration=12s --output=json >"$OUT/echo.json" \
  2>/dev/null &
BENCH=$!
trap 'kill $BENCH 2>/dev/null; kill -TERM $DAEMON 2>/dev/null; wait; rm -rf "$WORK"' EXIT
sleep 3
perf record -q -g -p "$DAEMON" -o "$OUT/streampackets.perf" -- sleep 6 \
  2>/dev/null
wait "$BENCH"
cat "$OUT/echo.json"
echo "== by thread (comm)"
perf report -i "$OUT/streampackets.perf" --no-children --sort comm \
  --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -12
echo "== by function, self time"
perf report -i "$OUT/streampackets.perf" --no-children --sort dso,symbol \
  --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -40
