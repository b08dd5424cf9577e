# Sourced by the API benchmarks: starts one snaptund that is both client and
# gateway, with the handshake rate limits lifted for the run, and authorizes
# its own key. Run from the repository's root after building snaptund and
# snaptunctl.
#   snaptun_bench_daemon GRPC_PORT GATEWAY_PORT
# Sets WORK (removed on exit), DAEMON (its pid), CTL (snaptunctl with
# --server) and PUB (the daemon's public key); the EXIT trap stops the
# daemon and any pid in BENCH_PIDS.
snaptun_bench_daemon() {
  WORK="$(mktemp -d)"
  BENCH_PIDS=()
  ./bazel-bin/service/daemon/snaptund --private_key_file="$WORK/k" \
    --grpc_listen="127.0.0.1:$1" --metrics_listen=127.0.0.1:0 \
    --gateway_listen="127.0.0.1:$2" --handshakes_per_source=100000 \
    --handshakes_per_source_max=100000 --handshakes_total=100000 \
    2>"$WORK/log" &
  DAEMON=$!
  trap 'kill "${BENCH_PIDS[@]}" 2>/dev/null || true; kill -TERM $DAEMON 2>/dev/null || true; wait; rm -rf "$WORK"' EXIT
  for _ in $(seq 100); do
    grep -q "gRPC on port" "$WORK/log" 2>/dev/null && break
    sleep 0.1
  done
  CTL=(./bazel-bin/cli/snaptunctl --server="127.0.0.1:$1")
  PUB="$(./bazel-bin/cli/snaptunctl pubkey "$WORK/k")"
  "${CTL[@]}" authorize "$PUB" >/dev/null
}
