#!/usr/bin/env bash
# The abuse suite against the snaptund binary: a second daemon on the same
# ports must exit non-zero with a clear message; a control plane that never
# answers must not hold up SIGTERM (the asan configuration runs this with the
# sanitized binary, which is where the old use-after-free showed); SIGHUP
# drains; a low RLIMIT_NOFILE limits client tunnels with a clear error
# instead of starving the API; an API open to the network with neither token
# nor TLS is started with a warning.
#   daemon_abuse_test.sh SNAPTUND SNAPTUNCTL DAEMONS_SH
set -euo pipefail
SNAPTUND="$(realpath "$1")"
CTL="$(realpath "$2")"
source "$3"
daemon_test_begin
cd "$WORK"

echo "--- a second daemon on the same ports exits 1 with a clear message"
start_daemon first --grpc_listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
  --gateway_listen=127.0.0.1:0
status=0
"$SNAPTUND" --private_key_file="$WORK/second.key" --grpc_listen=127.0.0.1:0 \
  --metrics_listen=127.0.0.1:0 --gateway_listen="$GW_first" \
  2>"$WORK/second.log" || status=$?
[[ $status -eq 1 ]] || { echo "second daemon exited $status" >&2; exit 1; }
grep -q "another snaptund already listening" "$WORK/second.log"
status=0
"$SNAPTUND" --private_key_file="$WORK/third.key" \
  --grpc_listen="127.0.0.1:$PORT_first" --metrics_listen=127.0.0.1:0 \
  2>"$WORK/third.log" || status=$?
[[ $status -eq 1 ]] || { echo "third daemon exited $status" >&2; exit 1; }
grep -q "in use (--grpc_listen)" "$WORK/third.log"

echo "--- SIGHUP drains"
stop_daemon first HUP

echo "--- a control plane that never answers does not hold up SIGTERM"
/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
held = []
while True:
    c, _ = s.accept()
    held.append(c)  # Read nothing, answer nothing.
' >"$WORK/blackhole.port" &
PIDS+=($!)
for _ in $(seq 100); do [[ -s "$WORK/blackhole.port" ]] && break; sleep 0.1; done
BLACKHOLE="$(cat "$WORK/blackhole.port")"
printf 'snap-token\n' >"$WORK/snap.token"
chmod 600 "$WORK/snap.token"
start_daemon cp --grpc_listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
  --snap_token_file="$WORK/snap.token" \
  --control_plane_plain_http_hosts=127.0.0.1
"$CTL" --server="127.0.0.1:$PORT_cp" open --id=stuck \
  --control_plane_url="http://127.0.0.1:$BLACKHOLE" --timeout=120s \
  >"$WORK/open.out" 2>&1 &
OPEN=$!
sleep 1  # The open is now waiting on the control plane.
started=$(date +%s)
stop_daemon cp TERM
elapsed=$(( $(date +%s) - started ))
# The control-plane call's own timeout is 5 s and its retries take longer;
# an abandoned call ends the drain well before either.
(( elapsed < 15 )) || { echo "SIGTERM took ${elapsed}s" >&2; exit 1; }
open_status=0
wait "$OPEN" || open_status=$?
[[ $open_status -ne 0 ]] || { echo "the stuck open succeeded" >&2; exit 1; }

echo "--- an oversized control-plane answer fails the open, unbuffered"
/usr/bin/python3 -c '
import socket, threading
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
def serve(c):
    try:
        c.recv(65536)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/proto\r\n"
                  b"Content-Length: 300000000\r\n\r\n")
        chunk = b"\0" * 65536
        while True:
            c.sendall(chunk)
    except OSError:
        pass
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
' >"$WORK/huge.port" &
PIDS+=($!)
for _ in $(seq 100); do [[ -s "$WORK/huge.port" ]] && break; sleep 0.1; done
start_daemon huge --grpc_listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
  --snap_token_file="$WORK/snap.token" \
  --control_plane_plain_http_hosts=127.0.0.1
if "$CTL" --server="127.0.0.1:$PORT_huge" open --id=huge \
  --control_plane_url="http://127.0.0.1:$(cat "$WORK/huge.port")" \
  >/dev/null 2>"$WORK/huge.err"; then
  echo "an open with a 300 MB control-plane answer succeeded" >&2; exit 1
fi
grep -q "more than 1048576 bytes" "$WORK/huge.err"
stop_daemon huge TERM

echo "--- a low RLIMIT_NOFILE limits client tunnels, not the API"
start_daemon gw --grpc_listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
  --gateway_listen=127.0.0.1:0
GW_PUB="$("$CTL" pubkey "$WORK/gw.key")"
(
  ulimit -n 300
  start_daemon low --grpc_listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0
  echo "$PORT_low" >"$WORK/low.port"
  echo "$PID_low" >"$WORK/low.pid"
  wait
) &
PIDS+=($!)
for _ in $(seq 600); do [[ -s "$WORK/low.pid" ]] && break; sleep 0.1; done
PORT_low="$(cat "$WORK/low.port")"
PID_low="$(cat "$WORK/low.pid")"
PIDS+=("$PID_low")
grep -q "client tunnels are limited to 44" "$WORK/low.log"
LOW_PUB="$("$CTL" pubkey "$WORK/low.key")"
"$CTL" --server="127.0.0.1:$PORT_gw" authorize "$LOW_PUB" >/dev/null
refused=0
for i in $(seq 50); do
  if ! "$CTL" --server="127.0.0.1:$PORT_low" open --id="t$i" --peer="$GW_PUB" \
    --data_plane="$GW_gw" --keepalive=0 >/dev/null 2>"$WORK/open-$i.err"; then
    grep -q "RLIMIT_NOFILE" "$WORK/open-$i.err"
    refused=$((refused + 1))
  fi
done
[[ $refused -eq 6 ]] || { echo "$refused opens refused, expected 6" >&2; exit 1; }
"$CTL" --server="127.0.0.1:$PORT_low" list >/dev/null
METRICS_low="$(sed -n 's/.*metrics on port \([0-9]*\).*/\1/p' "$WORK/low.log")"
/usr/bin/python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=10)' \
  "http://127.0.0.1:$METRICS_low/healthz"
kill -TERM "$PID_low"
stop_daemon gw TERM

echo "--- an API open to the network without token or TLS is started with a warning"
start_daemon open --grpc_listen=0.0.0.0:0 --metrics_listen=127.0.0.1:0
grep -q "WARNING: the gRPC API on 0.0.0.0:0 is reachable off this host" "$WORK/open.log"
stop_daemon open TERM
echo PASS
