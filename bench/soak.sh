#!/usr/bin/env bash
# Soak: one snaptund under bench/soak_driver's mixed load (tunnel churn,
# traffic, stream attach/detach, watcher churn, a handshake flood) for
# SECONDS, sampling the daemon's RSS, open fds, threads and memory mappings
# every second into OUT/soak.csv, plotting them to OUT/soak.png (with
# gnuplot, installed when missing), and failing when any of them grows after
# warm-up: the median of the last quarter against the median of the second.
#   bench/soak.sh [SECONDS=600] [OUT=soak-out]
# With SNAPTUND and SOAK_DRIVER set to built binaries, bazel is not run;
# SOAK_PLOT=0 skips the plot.
set -euo pipefail
SECONDS_TO_RUN="${1:-600}"
OUT="$(mkdir -p "${2:-soak-out}" && cd "${2:-soak-out}" && pwd)"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [[ -z "${SNAPTUND:-}" || -z "${SOAK_DRIVER:-}" ]]; then
  (cd "$ROOT" && bazel build --noshow_progress //service/daemon:snaptund \
    //bench:soak_driver)
  SNAPTUND="$ROOT/bazel-bin/service/daemon/snaptund"
  SOAK_DRIVER="$ROOT/bazel-bin/bench/soak_driver"
fi
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$SNAPTUND" --private_key_file="$WORK/soak.key" --grpc_listen=127.0.0.1:0 \
  --metrics_listen=127.0.0.1:0 --gateway_listen=127.0.0.1:0 --workers=2 \
  --max_tunnels_per_identity=100000 --handshakes_per_source=100000 \
  --handshakes_per_source_max=100000 2>"$OUT/snaptund.log" &
DAEMON=$!
PIDS+=("$DAEMON")
for _ in $(seq 600); do
  grep -q "snaptund: ready" "$OUT/snaptund.log" && break
  sleep 0.1
done
PORT="$(sed -n 's/.*gRPC on port \([0-9]*\).*/\1/p' "$OUT/snaptund.log")"
[[ -n "$PORT" ]] || { cat "$OUT/snaptund.log"; exit 1; }

"$SOAK_DRIVER" --server="127.0.0.1:$PORT" --seconds="$SECONDS_TO_RUN" \
  >"$OUT/driver.txt" 2>&1 &
DRIVER=$!
PIDS+=("$DRIVER")

echo "second,rss_mib,fds,threads,mappings" >"$OUT/soak.csv"
second=0
while kill -0 "$DRIVER" 2>/dev/null; do
  rss_kib="$(awk '/^VmRSS:/{print $2}' "/proc/$DAEMON/status")"
  threads="$(awk '/^Threads:/{print $2}' "/proc/$DAEMON/status")"
  fds="$(ls "/proc/$DAEMON/fd" | wc -l)"
  maps="$(wc -l <"/proc/$DAEMON/maps")"
  echo "$second,$((rss_kib / 1024)),$fds,$threads,$maps" >>"$OUT/soak.csv"
  second=$((second + 1))
  sleep 1
done
wait "$DRIVER" || { cat "$OUT/driver.txt"; exit 1; }
cat "$OUT/driver.txt"

if [[ "${SOAK_PLOT:-1}" == 1 ]] && ! command -v gnuplot >/dev/null; then
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends gnuplot-nox >/dev/null 2>&1 || true
fi
if [[ "${SOAK_PLOT:-1}" == 1 ]] && command -v gnuplot >/dev/null; then
  gnuplot <<PLOT
set terminal png size 1000,700
set output "$OUT/soak.png"
set datafile separator ","
set multiplot layout 2,2 title "snaptund soak: ${SECONDS_TO_RUN} s of churn, traffic, streams, watchers, handshake flood"
set xlabel "seconds"
set key off
set yrange [0:*]
set title "RSS (MiB)"
plot "$OUT/soak.csv" using 1:2 every ::1 with lines
set title "open fds"
plot "$OUT/soak.csv" using 1:3 every ::1 with lines
set title "threads"
plot "$OUT/soak.csv" using 1:4 every ::1 with lines
set title "memory mappings"
plot "$OUT/soak.csv" using 1:5 every ::1 with lines
unset multiplot
PLOT
  echo "plot: $OUT/soak.png"
fi

# Growth after warm-up: median of the last quarter vs the second quarter,
# with a tolerance per series (allocator and thread-pool noise).
/usr/bin/python3 - "$OUT/soak.csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
n = len(rows)
if n < 8:
    sys.exit("too few samples: %d" % n)
second = rows[n // 4: n // 2]
last = rows[3 * n // 4:]
tolerance = {"rss_mib": lambda base: 16 + base * 0.10, "fds": lambda base: 16,
             "threads": lambda base: 8, "mappings": lambda base: 48}
failed = False
for key, allowed in tolerance.items():
    a = statistics.median(int(r[key]) for r in second)
    b = statistics.median(int(r[key]) for r in last)
    grew = b - a
    verdict = "ok" if grew <= allowed(a) else "GROWS"
    failed |= verdict != "ok"
    print("%-9s after warm-up %8.1f, at the end %8.1f (%+.1f, allowed %.1f): %s"
          % (key, a, b, grew, allowed(a), verdict))
sys.exit(1 if failed else 0)
PY
