#!/usr/bin/env bash
# Metrics against the real tools: `promtool check metrics` on a live scrape,
# then a real Prometheus server on loopback scrapes the process and its
# query API must return the data-plane series with the expected values.
#   prometheus_test.sh METRICS_FIXTURE
set -euo pipefail
FIXTURE="$1"
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
# A free port: the kernel picks one for a socket that is then closed, and a
# Prometheus that could not bind it (another test took it meanwhile) is
# started again on a new one.
free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
cat >"$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: snaptun
    static_configs:
      - targets: ["127.0.0.1:$PORT"]
YAML
start_prometheus() {
  PROM_PORT="$(free_port)"
  prometheus --config.file="$WORK/prometheus.yml" \
    --storage.tsdb.path="$WORK/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
  PROM_PID=$!
  PIDS+=("$PROM_PID")
}
start_prometheus
QUERY='snaptun_handshakes_completed_total{role="client",job="snaptun"}'
for _ in $(seq 240); do
  if ! kill -0 "$PROM_PID" 2>/dev/null; then
    echo "Prometheus exited; starting it again on another port" >&2
    tail -3 "$WORK/prometheus.log" >&2
    rm -rf "$WORK/data"
    start_prometheus
  fi
  if out="$(fetch "http://127.0.0.1:$PROM_PORT/api/v1/query?query=$(/usr/bin/python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$QUERY")" 2>/dev/null)" &&
    /usr/bin/python3 -c '
import json, sys
d = json.loads(sys.argv[1])
r = d["data"]["result"]
sys.exit(0 if d["status"] == "success" and len(r) == 1 and r[0]["value"][1] == "1" else 1)
' "$out"; then
    echo "query $QUERY -> $out"
    echo PASS
    exit 0
  fi
  sleep 0.5
done
echo "Prometheus never returned the series" >&2
tail -20 "$WORK/prometheus.log" >&2
exit 1
