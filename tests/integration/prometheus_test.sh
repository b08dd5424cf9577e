#!/usr/bin/env bash
# Metrics against the real tools: `promtool check metrics` on a live scrape,
# then a real Prometheus server on loopback scrapes the process and its
# query API must return the data-plane series with the expected values.
#   prometheus_test.sh METRICS_FIXTURE PROMETHEUS_SH
set -euo pipefail
FIXTURE="$1"
source "$2"
for tool in promtool prometheus; do
  command -v "$tool" >/dev/null || {
    echo "missing $tool: run ./scripts/test.sh, which installs it" >&2
    exit 1
  }
done
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

mkfifo "$WORK/stdin"
"$FIXTURE" <"$WORK/stdin" >"$WORK/fixture.out" 2>&1 &
PIDS+=($!)
exec 3>"$WORK/stdin"  # Holds the fixture's stdin open.
for _ in $(seq 600); do
  grep -q '^port ' "$WORK/fixture.out" && break
  sleep 0.1
done
PORT="$(awk '/^port /{print $2}' "$WORK/fixture.out")"
[[ -n "$PORT" ]] || { cat "$WORK/fixture.out"; exit 1; }

fetch() { /usr/bin/python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }

echo "--- promtool check metrics"
fetch "http://127.0.0.1:$PORT/metrics" >"$WORK/scrape.txt"
promtool check metrics <"$WORK/scrape.txt"
grep -q '^snaptun_packets_total{direction="rx",role="gateway"} 10$' "$WORK/scrape.txt"

echo "--- Prometheus scrapes it"
cat >"$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: snaptun
    static_configs:
      - targets: ["127.0.0.1:$PORT"]
YAML
QUERY='snaptun_handshakes_completed_total{role="client",job="snaptun"}'
# query_is_one: the query returns one series, of value 1.
query_is_one() {
  local out
  out="$(fetch "http://127.0.0.1:$PROM_PORT/api/v1/query?query=$(/usr/bin/python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$QUERY")" 2>/dev/null)" &&
    /usr/bin/python3 -c '
import json, sys
d = json.loads(sys.argv[1])
r = d["data"]["result"]
sys.exit(0 if d["status"] == "success" and len(r) == 1 and r[0]["value"][1] == "1" else 1)
' "$out"
}
prometheus_start "$WORK/prometheus.yml"
prometheus_wait query_is_one
echo "query $QUERY returns 1"
echo PASS
