#!/usr/bin/env bash
# An https:// control plane signed by a private CA, against a real snaptund:
# with --control_plane_ca_file naming that CA the call reaches the server
# (its Connect error comes back through OpenTunnel); without it the
# certificate is refused; a missing or non-PEM bundle fails start-up. No
# part of the SNAP token reaches a log.
#   control_plane_tls_test.sh SNAPTUND SNAPTUNCTL DAEMONS_SH
set -euo pipefail
SNAPTUND="$(realpath "$1")"
CTL="$(realpath "$2")"
source "$3"
daemon_test_begin
cd "$WORK"
umask 077

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=snaptun-test-ca \
  -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout cp.key \
  -out cp.csr 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >cp.ext
openssl x509 -req -in cp.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -days 2 -extfile cp.ext -out cp.pem 2>/dev/null
# A control plane that answers every call with a Connect error naming itself.
python3 -c '
import http.server, ssl, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b"{\"code\":\"permission_denied\",\"message\":\"reached the private control plane\"}"
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain("cp.pem", "cp.key")
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
' >cp.port &
PIDS+=($!)
for _ in $(seq 100); do [[ -s cp.port ]] && break; sleep 0.1; done
URL="https://localhost:$(cat cp.port)"
# JWT-shaped, with a signature segment the log must never show (W10).
SIGNATURE="sig$RANDOM$RANDOM$RANDOM"
printf 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.%s\n' "$SIGNATURE" >snap.token

echo "--- with the private CA, the call reaches the control plane"
start_daemon trusting --grpc_listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
  --snap_token_file=snap.token --control_plane_ca_file="$WORK/ca.pem"
if "$CTL" --server="127.0.0.1:$PORT_trusting" open --id=a --control_plane_url="$URL" \
  >/dev/null 2>ca.err; then
  echo "the open succeeded against a refusing control plane" >&2; exit 1
fi
cat ca.err
grep -q "^error: PERMISSION_DENIED: .*reached the private control plane" ca.err

echo "--- without it, the certificate is refused"
start_daemon system --grpc_listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
  --snap_token_file=snap.token
if "$CTL" --server="127.0.0.1:$PORT_system" open --id=b \
  --control_plane_url="$URL" >/dev/null 2>system.err; then
  echo "the open succeeded with an unverifiable certificate" >&2; exit 1
fi
cat system.err
grep -qi "certificate" system.err
if grep -q "reached the private control plane" system.err; then
  echo "the call went through without verifying the certificate" >&2; exit 1
fi

echo "--- a missing or non-PEM bundle fails start-up"
for bundle in "$WORK/missing.pem" "$WORK/snap.token"; do
  status=0
  "$SNAPTUND" --private_key_file="$WORK/bad.key" --grpc_listen=127.0.0.1:0 \
    --metrics_listen=127.0.0.1:0 --snap_token_file=snap.token \
    --control_plane_ca_file="$bundle" 2>bad.log || status=$?
  [[ $status -eq 1 ]] || { cat bad.log >&2; exit 1; }
  grep -q "control_plane_ca_file\|$bundle" bad.log
done

stop_daemon trusting TERM
stop_daemon system TERM

echo "--- no part of the SNAP token in any log (W10)"
if grep -q "$SIGNATURE" "$WORK"/*.log "$WORK"/*.err; then
  echo "the SNAP token's signature appeared in a log" >&2; exit 1
fi
echo PASS
