#!/usr/bin/env bash
# A gateway fleet as docs/OPERATIONS.md runs it: replicas share one static
# key (one Secret), authorizations live in each replica, so the orchestrator
# authorizes an identity on every replica it can address (here a list of
# addresses, in Kubernetes the headless Service's records). A client then
# reaches whichever replica the load balancer picks; a replica the
# orchestrator missed refuses it. A flood of bad datagrams is counted, not
# logged.
#   gateway_fleet_test.sh SNAPTUND SNAPTUNCTL DAEMONS_SH
set -euo pipefail
SNAPTUND="$(realpath "$1")"
CTL="$(realpath "$2")"
source "$3"
daemon_test_begin
umask 077

"$CTL" keygen --out="$WORK/fleet.key" >/dev/null
for replica in gw1 gw2 gw3; do cp "$WORK/fleet.key" "$WORK/$replica.key"; done
for replica in gw1 gw2 gw3; do
  start_daemon "$replica" --grpc_listen=127.0.0.1:0 \
    --metrics_listen=127.0.0.1:0 --gateway_listen=127.0.0.1:0
done
start_daemon client --grpc_listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0
FLEET_PUB="$("$CTL" pubkey "$WORK/fleet.key")"
CLIENT_PUB="$("$CTL" pubkey "$WORK/client.key")"
C=("$CTL" --server="127.0.0.1:$PORT_client")

echo "--- the orchestrator authorizes the client on every replica it addresses"
REPLICAS=("127.0.0.1:$PORT_gw1" "127.0.0.1:$PORT_gw2")
for api in "${REPLICAS[@]}"; do
  "$CTL" --server="$api" authorize "$CLIENT_PUB" --ttl=1h >/dev/null
done
for replica in gw1 gw2; do
  port_var="PORT_$replica"
  "$CTL" --server="127.0.0.1:${!port_var}" identities --output=json |
    grep -q "$CLIENT_PUB"
done

echo "--- the client reaches either replica, and packets cross"
for replica in gw1 gw2; do
  gw_var="GW_$replica"
  port_var="PORT_$replica"
  "${C[@]}" open --peer="$FLEET_PUB" --data_plane="${!gw_var}" \
    --id="to-$replica" >/dev/null
  G=("$CTL" --server="127.0.0.1:${!port_var}")
  gw_id="$("${G[@]}" list --role=gateway --output=json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["tunnels"][0]["tunnel_id"])')"
  "${G[@]}" recv "$gw_id" --count=1 --timeout=10s >"$WORK/$replica.txt" &
  recv=$!
  sleep 0.3
  echo "via $replica" | "${C[@]}" send "to-$replica" >/dev/null
  wait "$recv"
  grep -qx "via $replica" "$WORK/$replica.txt"
done

echo "--- a replica the orchestrator missed refuses the client"
if "${C[@]}" open --peer="$FLEET_PUB" --data_plane="$GW_gw3" --id=to-gw3 \
  --connect_timeout=6s >/dev/null 2>"$WORK/gw3.err"; then
  echo "an unauthorized replica accepted the client" >&2; exit 1
fi
cat "$WORK/gw3.err"
"$CTL" --server="127.0.0.1:$PORT_gw3" list --role=gateway --output=json |
  python3 -c 'import json,sys; assert not json.load(sys.stdin).get("tunnels")'

echo "--- a flood of bad datagrams is counted, not logged (W16)"
lines_before=$(wc -l <"$WORK/gw3.log")
python3 - "${GW_gw3}" <<'PY'
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(2000):
    s.sendto(bytes([1 + i % 4]) + b"\x00" * (i % 200), (host, int(port)))
PY
# (Read into a file: `curl | grep -q` fails under pipefail when grep stops
# reading early.)
for _ in $(seq 100); do
  curl -s "http://127.0.0.1:$METRICS_gw3/metrics" >"$WORK/gw3.metrics" || true
  grep -q 'snaptun_packets_dropped_total{reason="invalid_packet",role="gateway"} [1-9]' \
    "$WORK/gw3.metrics" && break
  sleep 0.1
done
curl -s "http://127.0.0.1:$METRICS_gw3/metrics" >"$WORK/gw3.metrics"
grep -q 'snaptun_packets_dropped_total{reason="invalid_packet",role="gateway"} [1-9]' \
  "$WORK/gw3.metrics" || {
  grep 'snaptun_packets_dropped_total\|handshake_failures' "$WORK/gw3.metrics" >&2
  echo "the flood was not counted" >&2
  exit 1
}
lines_after=$(wc -l <"$WORK/gw3.log")
((lines_after == lines_before)) || {
  echo "the gateway logged per bad datagram ($lines_before -> $lines_after lines)" >&2
  exit 1
}

for name in client gw1 gw2 gw3; do stop_daemon "$name" TERM; done
PIDS=()
echo PASS
