#!/usr/bin/env bash
# Real snaptund processes driven from outside:
#   - a gateway daemon and a client daemon (with an API token); snaptunctl
#     authorizes, opens a tunnel, and sends and receives packets both ways;
#   - Debian's Python grpcio, with stubs generated from the project's proto,
#     reads the tunnel, checks error codes, health and reflection, and
#     streams a packet;
#   - the API's calls, the handshake's two halves and the limits show in
#     /metrics (go-grpc-prometheus names), which promtool accepts busy;
#   - an mTLS daemon refuses a client without a certificate;
#   - SIGTERM drains every daemon to exit 0, and no secret is in any log.
#   daemon_e2e_test.sh SNAPTUND SNAPTUNCTL PROTO API_CLIENT_PY
set -euo pipefail
SNAPTUND="$(realpath "$1")"
CTL="$(realpath "$2")"
PROTO="$(realpath "$3")"
PY_CLIENT="$(realpath "$4")"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
umask 077

start() {  # NAME ARGS... ; sets PORT_<NAME> and, with a gateway, GW_<NAME>
  local name="$1"
  shift
  "$SNAPTUND" --private_key_file="$WORK/$name.key" --grpc_listen=127.0.0.1:0 \
    --metrics_listen=127.0.0.1:0 "$@" 2>"$WORK/$name.log" &
  PIDS+=($!)
  eval "PID_$name=$!"
  for _ in $(seq 600); do
    grep -q "snaptund: ready" "$WORK/$name.log" && break
    sleep 0.1
  done
  grep -q "snaptund: ready" "$WORK/$name.log" || { cat "$WORK/$name.log"; exit 1; }
  eval "PORT_$name=$(sed -n 's/.*gRPC on port \([0-9]*\).*/\1/p' "$WORK/$name.log")"
  eval "GW_$name=$(sed -n 's/.*gateway listening on \([0-9.:]*\) .*/\1/p' "$WORK/$name.log")"
  eval "METRICS_$name=$(sed -n 's/.*metrics on port \([0-9]*\).*/\1/p' "$WORK/$name.log")"
}

# metric FILE NAME [LABEL=VALUE...]: the value of the one series of NAME
# carrying those labels in a scrape, or "missing".
metric() {
  /usr/bin/python3 - "$@" <<'PY'
import re, sys
path, name, want = sys.argv[1], sys.argv[2], sys.argv[3:]
for line in open(path):
    m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line.strip())
    if not m or m.group(1) != name:
        continue
    labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
    if all(labels.get(k) == v for k, v in (w.split("=", 1) for w in want)):
        print(m.group(4)); sys.exit(0)
print("missing")
PY
}
expect_metric() {  # FILE WANT NAME [LABEL=VALUE...]
  local file="$1" want="$2"
  shift 2
  local got
  got="$(metric "$file" "$@")"
  if [[ "$got" != "$want" ]]; then
    echo "$* is $got, want $want" >&2
    exit 1
  fi
}

expect_positive() {  # FILE NAME [LABEL=VALUE...]
  local file="$1"
  shift
  local got
  got="$(metric "$file" "$@")"
  if [[ "$got" == missing ]] || ! awk -v v="$got" 'BEGIN { exit !(v > 0) }'; then
    echo "$* is $got, want more than 0" >&2
    exit 1
  fi
}

echo "--- two daemons"
printf 'e2e-api-token-%s\n' "$RANDOM$RANDOM" >"$WORK/token"
TOKEN="$(cat "$WORK/token")"
start gw --gateway_listen=127.0.0.1:0
start client --api_token_file="$WORK/token"
G=("$CTL" --server="127.0.0.1:$PORT_gw")
C=("$CTL" --server="127.0.0.1:$PORT_client" --token_file="$WORK/token")
# Idle daemons' scrapes pass promtool too (busy ones are checked below).
for name in client gw; do
  port_var="METRICS_$name"
  curl -sf "http://127.0.0.1:${!port_var}/metrics" >"$WORK/$name.idle.prom"
  promtool check metrics <"$WORK/$name.idle.prom"
done
GW_PUB="$("$CTL" pubkey "$WORK/gw.key")"
CLIENT_PUB="$("$CTL" pubkey "$WORK/client.key")"

"${G[@]}" authorize "$CLIENT_PUB" --ttl=1h
"${C[@]}" open --peer="$GW_PUB" --data_plane="$GW_gw" --id=e2e --label=test=e2e
"${C[@]}" get e2e --output=json | grep -q '"state":"TUNNEL_STATE_ESTABLISHED"'

echo "--- packets both ways"
GW_ID="$("${G[@]}" list --role=gateway --output=json |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["tunnels"][0]["tunnel_id"])')"
"${G[@]}" recv "$GW_ID" --count=3 --timeout=10s >"$WORK/up.txt" &
RECV=$!
sleep 0.5
printf 'one\ntwo\nthree\n' | "${C[@]}" send e2e
wait "$RECV"
diff <(printf 'one\ntwo\nthree\n') "$WORK/up.txt"
"${C[@]}" recv e2e --count=2 --timeout=10s >"$WORK/down.txt" &
RECV=$!
sleep 0.5
printf 'back 1\nback 2\n' | "${G[@]}" send "$GW_ID"
wait "$RECV"
diff <(printf 'back 1\nback 2\n') "$WORK/down.txt"

echo "--- the API refuses calls without the token"
if "$CTL" --server="127.0.0.1:$PORT_client" list 2>"$WORK/err.txt"; then
  echo "a call without the token succeeded" >&2; exit 1
fi
grep -q "^error: UNAUTHENTICATED: .*(reason API_TOKEN_MISSING)$" "$WORK/err.txt"

echo "--- Python grpcio"
mkdir -p "$WORK/stubs"
protoc -I"$(dirname "$(dirname "$(dirname "$PROTO")")")" \
  --python_out="$WORK/stubs" --grpc_out="$WORK/stubs" \
  --plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin "$PROTO"
touch "$WORK/stubs/snaptun/__init__.py" "$WORK/stubs/snaptun/v1/__init__.py"
"${G[@]}" recv "$GW_ID" --count=1 --timeout=15s >"$WORK/py.txt" &
RECV=$!
sleep 0.5
/usr/bin/python3 "$PY_CLIENT" "$WORK/stubs" "127.0.0.1:$PORT_client" "$TOKEN" e2e
wait "$RECV"
grep -qx "from python" "$WORK/py.txt"

echo "--- API, handshake and saturation metrics"
curl -sf "http://127.0.0.1:$METRICS_client/metrics" >"$WORK/client.prom"
curl -sf "http://127.0.0.1:$METRICS_gw/metrics" >"$WORK/gw.prom"
promtool check metrics <"$WORK/client.prom"
promtool check metrics <"$WORK/gw.prom"
API=(grpc_service=snaptun.v1.TunnelService)
expect_metric client.prom 1 grpc_server_handled_total "${API[@]}" \
  grpc_method=OpenTunnel grpc_type=unary grpc_code=OK
# snaptunctl's call without the token, and Python's.
expect_metric client.prom 2 grpc_server_handled_total "${API[@]}" \
  grpc_method=ListTunnels grpc_code=Unauthenticated
# snaptunctl's open, and Python's with a bad key.
expect_metric client.prom 1 grpc_server_handled_total "${API[@]}" \
  grpc_method=OpenTunnel grpc_code=InvalidArgument
expect_metric client.prom 2 grpc_server_started_total "${API[@]}" \
  grpc_method=OpenTunnel
expect_metric client.prom 2 grpc_server_handling_seconds_count "${API[@]}" \
  grpc_method=OpenTunnel
expect_positive client.prom grpc_server_msg_received_total "${API[@]}" \
  grpc_method=StreamPackets grpc_type=bidi_stream
expect_metric gw.prom 1 grpc_server_handled_total \
  grpc_service=snaptun.v1.GatewayService grpc_method=AuthorizeIdentity \
  grpc_code=OK
# A retransmitted initiation (a slow machine) is answered again.
expect_positive gw.prom snaptun_handshake_initiations_received_total \
  role=gateway outcome=answered
expect_metric gw.prom 0 snaptun_handshake_initiations_received_total \
  role=gateway outcome=refused
expect_metric gw.prom 1 snaptun_handshakes_completed_total role=gateway
expect_positive client.prom snaptun_handshakes_initiated_total role=client
expect_metric gw.prom 1 snaptun_identities kind=authorized
expect_metric client.prom 1 snaptun_tunnel_quota kind=used
expect_metric gw.prom 1 snaptun_tunnel_quota kind=used
expect_metric client.prom 1024 snaptun_tunnels_per_identity role=client \
  kind=limit
expect_metric client.prom 1 snaptun_tunnels_per_identity role=client \
  kind=busiest
expect_metric gw.prom 1 snaptun_tunnels_per_identity role=gateway \
  kind=busiest
expect_metric client.prom 256 snaptun_watchers kind=limit
# The stamped revision (12 hex digits; "unknown" built outside a git
# checkout) is the one --version prints.
REVISION="$("$SNAPTUND" --version | sed -n 's/.* revision \(.*\)$/\1/p')"
[[ "$REVISION" =~ ^([0-9a-f]{12}|unknown)$ ]] || {
  echo "snaptund --version names revision '$REVISION'" >&2
  exit 1
}
expect_metric client.prom 1 snaptun_build_info version=0.1.0 \
  revision="$REVISION"

echo "--- mTLS"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=snaptun-test-ca \
  -keyout ca.key -out ca.pem 2>/dev/null
for who in server client; do
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$who" -keyout "$who.key" \
    -out "$who.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' >"$who.ext"
  openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
    -days 2 -extfile "$who.ext" -out "$who.pem" 2>/dev/null
done
chmod 600 server.key client.key
start mtls --tls_cert_file=server.pem --tls_key_file=server.key \
  --tls_client_ca_file=ca.pem
if "$CTL" --server="127.0.0.1:$PORT_mtls" --tls_ca_file=ca.pem list \
  --timeout=5s 2>/dev/null; then
  echo "mTLS accepted a client without a certificate" >&2; exit 1
fi
"$CTL" --server="127.0.0.1:$PORT_mtls" --tls_ca_file=ca.pem \
  --tls_cert_file=client.pem --tls_key_file=client.key list >/dev/null
echo "mTLS: refused without a client certificate, accepted with one"

echo "--- SIGTERM drains each daemon to exit 0"
for name in client gw mtls; do
  pid_var="PID_$name"
  kill -TERM "${!pid_var}"
  status=0
  wait "${!pid_var}" || status=$?
  [[ $status -eq 0 ]] || { echo "$name exited $status" >&2; exit 1; }
  grep -q "snaptund: drained" "$WORK/$name.log"
done
PIDS=()

echo "--- no secret in any log"
for name in client gw mtls; do
  key_b64="$(tr -d '\n' <"$WORK/$name.key")"
  if grep -qF -- "$key_b64" "$WORK"/*.log || grep -qF -- "$TOKEN" "$WORK"/*.log; then
    echo "a secret appeared in a log" >&2; exit 1
  fi
done
echo PASS
