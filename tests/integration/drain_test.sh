#!/usr/bin/env bash
# SIGTERM as Kubernetes sends it, against a real snaptund:
#   - with --lame_duck, /readyz turns 503 at once while the API, the tunnel
#     and an open WatchTunnels stream keep working for the whole period;
#   - then the drain closes the tunnel, the watcher receives its CLOSED
#     event and ends with UNAVAILABLE (reason SHUTTING_DOWN) instead of
#     holding the server's shutdown until its deadline, and the daemon
#     exits 0;
#   - a second signal cuts a long lame-duck period short.
#   drain_test.sh SNAPTUND SNAPTUNCTL DAEMONS_SH
set -euo pipefail
SNAPTUND="$(realpath "$1")"
CTL="$(realpath "$2")"
source "$3"
daemon_test_begin
umask 077

readyz() {
  curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/readyz" || true
}

echo "--- a lame duck keeps serving while it reports not ready"
start_daemon duck --grpc_listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
  --gateway_listen=127.0.0.1:0 --lame_duck=8s
D=("$CTL" --server="127.0.0.1:$PORT_duck")
PUB="$("$CTL" pubkey "$WORK/duck.key")"
"${D[@]}" authorize "$PUB" --ttl=1h
"${D[@]}" open --peer="$PUB" --data_plane="$GW_duck" --id=t1
[[ "$(readyz "$METRICS_duck")" == 200 ]]
"${D[@]}" watch >"$WORK/watch.out" 2>"$WORK/watch.err" &
WATCH=$!
# Subscribed once the existing tunnel was replayed to it.
for _ in $(seq 200); do grep -q t1 "$WORK/watch.out" && break; sleep 0.1; done
grep -q t1 "$WORK/watch.out"

start=$(date +%s%N)
kill -TERM "$PID_duck"
for _ in $(seq 100); do [[ "$(readyz "$METRICS_duck")" == 503 ]] && break; sleep 0.05; done
[[ "$(readyz "$METRICS_duck")" == 503 ]] || { echo "/readyz did not turn 503" >&2; exit 1; }
# Still serving: calls succeed, the tunnel carries a packet, the watcher lives.
"${D[@]}" get t1 --output=json | grep -q '"state":"TUNNEL_STATE_ESTABLISHED"'
GW_ID="$("${D[@]}" list --role=gateway --output=json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["tunnels"][0]["tunnel_id"])')"
"${D[@]}" recv "$GW_ID" --count=1 --timeout=3s >"$WORK/lame.txt" &
RECV=$!
sleep 0.3
echo "during the lame duck" | "${D[@]}" send t1
wait "$RECV"
grep -qx "during the lame duck" "$WORK/lame.txt"
kill -0 "$WATCH"
kill -0 "$PID_duck"

status=0
wait "$PID_duck" || status=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
[[ $status -eq 0 ]] || { cat "$WORK/duck.log" >&2; exit 1; }
echo "exited ${elapsed_ms} ms after SIGTERM (lame duck 8000 ms)"
((elapsed_ms >= 8000)) || { echo "the lame duck was cut short" >&2; exit 1; }
grep -q "snaptund: drained" "$WORK/duck.log"
status=0
wait "$WATCH" || status=$?
((status != 0))
grep -q "UNAVAILABLE.*SHUTTING_DOWN" "$WORK/watch.err" || {
  cat "$WORK/watch.err" >&2; echo "the watcher did not end as draining" >&2
  exit 1
}
grep -q "CLOSED" "$WORK/watch.out" || {
  cat "$WORK/watch.out" >&2; echo "no CLOSED event before the end" >&2; exit 1
}

echo "--- a second signal ends a long lame duck"
start_daemon long --grpc_listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
  --lame_duck=10m
kill -TERM "$PID_long"
for _ in $(seq 100); do [[ "$(readyz "$METRICS_long")" == 503 ]] && break; sleep 0.05; done
[[ "$(readyz "$METRICS_long")" == 503 ]]
stop_daemon long TERM
grep -q "lame duck cut short" "$WORK/long.log"
PIDS=()
echo PASS
