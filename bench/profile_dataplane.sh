#!/usr/bin/env bash
# Where the data plane's time goes (docs/PERFORMANCE.md, "Against the AEAD
# bound"): runs one SNAP tunnel at 1400-byte payloads in process
# (`dataplane_bench SECONDS - snap`), records it with `perf record -g` from
# its second second to its end, and prints the CPU it used (cores busy),
# the share of each library (libcrypto is the AEAD), the allocator's and
# the copies' shares, and the top functions by self time. Needs perf
# (Debian's linux-perf, installed when missing) and permission to profile.
#   bench/profile_dataplane.sh [SECONDS] [OUTDIR]     defaults: 8, /tmp
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN="${1:-8}"
OUT="${2:-/tmp}"
source scripts/deps.sh
snaptun_install_packages linux-perf
bazel build --noshow_progress //bench:dataplane_bench
DATA="$OUT/dataplane.perf"
perf record -q -g -D 1000 -o "$DATA" \
  ./bazel-bin/bench/dataplane_bench "$SECONDS_RUN" - snap 2>/dev/null
report() { perf report -i "$DATA" --no-children --stdio -g none "$@" 2>/dev/null; }
# CPU time sampled over the recorded wall time (the AEAD measurement after
# the tunnel, one core busy, is a few hundred ms of it).
EVENTS=$(report --sort comm | sed -n 's/^# Event count (approx.): //p')
WALL_MS=$(perf report -i "$DATA" --header-only 2>/dev/null |
  sed -n 's/^# sample duration : *\([0-9.]*\) ms/\1/p')
echo "== CPU: $(awk -v e="$EVENTS" -v w="$WALL_MS" \
  'BEGIN { printf "%.2f cores busy of 2", e / 1e6 / w }')"
echo "== by library"
report --sort dso | grep -E '^ +[0-9]' | head -6
echo "== allocator and copies"
report --sort symbol | awk '
  /malloc|_int_free|cfree|unlink_chunk|__libc_free/ { a += $1 }
  /memmove|memcpy|_copy_to_iter|_copy_from_iter/ { c += $1 }
  END { printf "allocator %.1f%%, copies %.1f%%\n", a, c }'
echo "== by function, self time"
report --sort dso,symbol | grep -E '^ +[0-9]' | head -25 | cut -c1-110
