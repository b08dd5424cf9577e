#!/usr/bin/env bash
# The charts of docs/PERFORMANCE.md, every series measured by this one
# invocation on this machine:
#   throughput_vs_payload: packets per second against payload size for raw
#     UDP, the two-core AEAD bound, snaptun's data plane (one tunnel),
#     StreamPackets through the API (echo, 4 tunnels, 512 in flight) and
#     wireguard-go (iperf3 UDP between two namespaces);
#   throughput_vs_tunnels: the data plane's aggregate with 1, 64 and 1024
#     active tunnels, two workers on each side.
# Each as PNG and SVG, drawn by gnuplot (Debian's gnuplot-nox, installed
# when missing), with the CSV files they come from. wireguard-go needs root
# (network namespaces); without it that series is left out, and it says so.
#   bench/plot.sh [SECONDS] [OUTDIR]        defaults: 3, docs/perf
#   PLOT_ONLY=1 bench/plot.sh               redraw from OUTDIR's CSV files
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECONDS_TO_RUN="${1:-3}"
OUT="$(realpath -m "${2:-$ROOT/docs/perf}")"
source "$ROOT/scripts/deps.sh"
snaptun_install_packages gnuplot-nox
mkdir -p "$OUT"
cd "$ROOT"

if [[ -z "${PLOT_ONLY:-}" ]]; then
  bazel build --noshow_progress //bench:dataplane_bench
  ./bazel-bin/bench/dataplane_bench "$SECONDS_TO_RUN" "$OUT/dataplane.csv"
  bench/api_bench.sh "$SECONDS_TO_RUN" "$OUT/streampackets.csv"
  if [[ $EUID -eq 0 ]]; then
    bench/wireguard_go_baseline.sh "$SECONDS_TO_RUN" "$OUT/wireguard_go.csv"
  else
    echo "not root: the wireguard-go series is left out" >&2
    rm -f "$OUT/wireguard_go.csv"
  fi
fi
ALL="$(mktemp)"
trap 'rm -f "$ALL"' EXIT
tail -q -n +2 "$OUT"/dataplane.csv "$OUT"/streampackets.csv \
  $( [[ -f "$OUT/wireguard_go.csv" ]] && echo "$OUT/wireguard_go.csv") \
  >"$ALL"

series_plot() {  # SERIES... : a plot command with one line per series present
  local list=()
  local s
  for s in "$@"; do
    grep -q "^$s," "$ALL" && list+=("\"< grep '^$s,' $ALL\" using 2:3 with linespoints title '$s'")
  done
  local IFS=,
  echo "plot ${list[*]}"
}

for ext in png svg; do
  if [[ $ext == png ]]; then term="pngcairo size 900,560"; else term="svg size 900,560"; fi
  gnuplot <<GNUPLOT
set datafile separator ","
set terminal $term noenhanced
set grid
set key outside right
set logscale y
set format y "%.0s%c"
set ylabel "packets per second"
set output "$OUT/throughput_vs_payload.$ext"
set title "Throughput against payload size (one run, $(date -u -r "$OUT/dataplane.csv" +%F), $(nproc) cores)"
set xlabel "payload bytes"
set xtics (64, 256, 512, 1420)
$(series_plot raw_udp aead_bound dataplane streampackets wireguard_go)
set output "$OUT/throughput_vs_tunnels.$ext"
set title "Data plane aggregate against active tunnels (1400-byte payloads)"
set xlabel "active tunnels"
set logscale x
set xrange [0.8:1300]
set xtics (1, 64, 1024)
unset logscale y
set yrange [0:*]
$(series_plot aead_bound_tunnels dataplane_tunnels)
GNUPLOT
done
echo "charts in $OUT"
