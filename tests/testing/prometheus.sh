# Shell helpers for tests that run a real Prometheus on loopback. The caller
# has WORK (a scratch directory) and PIDS (processes its cleanup kills).
#   prometheus_start CONFIG   starts Prometheus with CONFIG on a free
#                             loopback port; sets PROM_PORT and PROM_PID
#   prometheus_wait CHECK     runs the command CHECK every 0.5 s for up to
#                             2 minutes until it succeeds; a Prometheus that
#                             exited meanwhile (another process took its
#                             port between the check and the bind) is
#                             started again on another port. Fails, with
#                             Prometheus's log, if CHECK never succeeds.
# The free port comes from a socket the kernel bound and that is then closed.

prometheus_free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

prometheus_start() {
  PROM_CONFIG="$1"
  PROM_PORT="$(prometheus_free_port)"
  prometheus --config.file="$PROM_CONFIG" \
    --storage.tsdb.path="$WORK/prometheus-data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
  PROM_PID=$!
  PIDS+=("$PROM_PID")
}

prometheus_wait() {
  for _ in $(seq 240); do
    if ! kill -0 "$PROM_PID" 2>/dev/null; then
      echo "Prometheus exited; starting it again on another port" >&2
      tail -3 "$WORK/prometheus.log" >&2
      rm -rf "$WORK/prometheus-data"
      prometheus_start "$PROM_CONFIG"
    fi
    "$@" && return 0
    sleep 0.5
  done
  echo "Prometheus never satisfied: $*" >&2
  tail -20 "$WORK/prometheus.log" >&2
  return 1
}
