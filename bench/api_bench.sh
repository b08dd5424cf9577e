#!/usr/bin/env bash
# The API's figures for docs/PERFORMANCE.md, with the data-plane baseline
# measured in the same invocation:
#   - OpenTunnel latency (p50/p99) and tunnels opened per second;
#   - packets per second through StreamPackets end to end: client stream →
#     client tunnel → gateway tunnel → gateway stream, echoed back the same
#     way, as a ratio of dataplane_bench's one-tunnel figure.
#   bench/api_bench.sh [SECONDS] [CSV]
# With CSV, also the StreamPackets echo at 64, 256, 512 and 1420-byte
# payloads, one row each (series,x,packets_per_second,gbps) for bench/plot.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN="${1:-5}"
bazel build --noshow_progress //service/daemon:snaptund //cli:snaptunctl \
  //bench:dataplane_bench
source bench/bench_daemon.sh
snaptun_bench_daemon 50071 51871
echo "== OpenTunnel: 200 tunnels, 8 at a time"
"${CTL[@]}" bench --peer="$PUB" --data_plane=127.0.0.1:51871 --tunnels=200 \
  --rate=1 --duration=1s --output=json 2>/dev/null
echo "== StreamPackets echo: 4 tunnels, 1400-byte packets, unpaced, 512 in flight"
"${CTL[@]}" bench --peer="$PUB" --data_plane=127.0.0.1:51871 --tunnels=4 \
  --rate=0 --size=1400 --window=512 --duration="${SECONDS_TO_RUN}s" \
  --output=json 2>/dev/null
if [[ -n "${2:-}" ]]; then
  echo "series,x,packets_per_second,gbps" >"$2"
  for size in 64 256 512 1420; do
    echo "== StreamPackets echo: 4 tunnels, ${size}-byte packets, 512 in flight"
    json="$("${CTL[@]}" bench --peer="$PUB" --data_plane=127.0.0.1:51871 \
      --tunnels=4 --rate=0 --size="$size" --window=512 \
      --duration="${SECONDS_TO_RUN}s" --output=json 2>/dev/null)"
    echo "$json"
    /usr/bin/python3 -c '
import json, sys
size = int(sys.argv[1])
pps = json.loads(sys.argv[2])["echoed_per_second"]
print(f"streampackets,{size},{pps:.0f},{pps * size * 8 / 1e9:.3f}")' \
      "$size" "$json" >>"$2"
  done
fi
echo "== data plane alone, same machine, same run"
./bazel-bin/bench/dataplane_bench "$SECONDS_TO_RUN" - one |
  sed -n '/^path/,/^AEAD bound/p'
