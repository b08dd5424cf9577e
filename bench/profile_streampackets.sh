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
source bench/bench_daemon.sh
snaptun_bench_daemon 50072 51872
"${CTL[@]}" bench --peer="$PUB" --data_plane=127.0.0.1:51872 --tunnels=4 \
  --rate=0 --size="$SIZE" --window="$WINDOW" --duration=12s --output=json >"$OUT/echo.json" \
  2>/dev/null &
BENCH=$!
BENCH_PIDS+=("$BENCH")
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
