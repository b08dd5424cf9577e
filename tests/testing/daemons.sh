# Shell helpers for tests that run real snaptund processes. The caller sets
# SNAPTUND (the binary) and calls daemon_test_begin first.
#   daemon_test_begin           makes a scratch directory WORK and an empty
#                               PIDS; on exit, kills every process left in
#                               PIDS, waits for them and removes WORK
#   start_daemon NAME ARGS...   starts snaptund with NAME's key and log in
#                               WORK, waits for "ready", and sets PID_NAME,
#                               PORT_NAME (gRPC), METRICS_NAME and, with a
#                               gateway, GW_NAME (its UDP address)
#   stop_daemon NAME SIGNAL     signals it and expects a drained exit 0

daemon_test_begin() {
  WORK="$(mktemp -d)"
  PIDS=()
  trap daemon_test_end EXIT
}

daemon_test_end() {
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}

start_daemon() {
  local name="$1"
  shift
  "$SNAPTUND" --private_key_file="$WORK/$name.key" "$@" 2>"$WORK/$name.log" &
  local pid=$!
  PIDS+=("$pid")
  eval "PID_$name=$pid"
  for _ in $(seq 600); do
    grep -q "snaptund: ready" "$WORK/$name.log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  grep -q "snaptund: ready" "$WORK/$name.log" || {
    cat "$WORK/$name.log" >&2
    return 1
  }
  eval "PORT_$name=$(sed -n 's/.*gRPC on port \([0-9]*\).*/\1/p' "$WORK/$name.log")"
  eval "METRICS_$name=$(sed -n 's/.*metrics on port \([0-9]*\).*/\1/p' "$WORK/$name.log")"
  eval "GW_$name=$(sed -n 's/.*gateway listening on \([0-9.:]*\) .*/\1/p' "$WORK/$name.log")"
}

stop_daemon() {
  local pid_var="PID_$1"
  kill "-$2" "${!pid_var}"
  local status=0
  wait "${!pid_var}" || status=$?
  [[ $status -eq 0 ]] || {
    echo "$1 exited $status after SIG$2" >&2
    cat "$WORK/$1.log" >&2
    return 1
  }
  grep -q "snaptund: drained" "$WORK/$1.log"
}
