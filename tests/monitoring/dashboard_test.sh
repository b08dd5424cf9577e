#!/usr/bin/env bash
# The Grafana dashboard (deploy/monitoring/dashboard.json) against the real
# thing: a gateway daemon and a client daemon on loopback, tunnels opened
# with snaptunctl (one through a stand-in SNAP control plane), packets both
# ways, tunnels opened and closed, garbage datagrams and a refused
# handshake, API calls that fail, while a real Prometheus scrapes both every
# second. Then every target of every panel (rows included) is run through
# Prometheus's /api/v1/query with the Grafana variables substituted
# ($__rate_interval → 30s, $job and $instance → .*), and must succeed with
# at least one series; so must the job and instance variables' label_values
# queries. One line per target; exit 1 listing the failures.
# First, without starting anything: the JSON loads, every panel has a title
# and targets with an expr and a legendFormat, every selector filters on
# $job and $instance, every range is $__rate_interval, panels do not
# overlap.
#   dashboard_test.sh SNAPTUND SNAPTUNCTL [--render OUT.png]
# With --render, also draws every panel over the run into OUT.png with
# deploy/monitoring/render_dashboard.py (needs python3-matplotlib; the
# picture in docs/OPERATIONS.md).
set -euo pipefail
SNAPTUND="$(realpath "$1")"
CTL="$(realpath "$2")"
shift 2
RENDER=""
while (($#)); do
  case "$1" in
    --render) RENDER="$(realpath -m "$2")"; shift 2 ;;
    --render=*) RENDER="$(realpath -m "${1#--render=}")"; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
# The source tree, or this test's runfiles under Bazel.
if [[ -n "${TEST_SRCDIR:-}" && -n "${TEST_WORKSPACE:-}" ]]; then
  ROOT="$TEST_SRCDIR/$TEST_WORKSPACE"
else
  ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fi
DASHBOARD="$ROOT/deploy/monitoring/dashboard.json"
MONITORING="$ROOT/deploy/monitoring"
source "$ROOT/tests/testing/daemons.sh"
source "$ROOT/tests/testing/prometheus.sh"
# Debian's Python (its matplotlib for --render), not a pyenv shim's; no
# __pycache__ beside render_dashboard.py.
PYTHON=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1
[[ -x "$PYTHON" ]] || PYTHON=python3
for tool in prometheus "$PYTHON"; do
  command -v "$tool" >/dev/null || {
    echo "missing $tool: run ./scripts/test.sh, which installs it" >&2
    exit 1
  }
done
if [[ -n "$RENDER" ]] && ! "$PYTHON" -c 'import matplotlib' 2>/dev/null; then
  echo "--render needs python3-matplotlib (apt-get install python3-matplotlib)" >&2
  exit 1
fi
TEST_START=$SECONDS

echo "--- the dashboard, read without a server"
"$PYTHON" - "$MONITORING" "$DASHBOARD" <<'PY'
import re, sys
sys.path.insert(0, sys.argv[1])
import render_dashboard as rd
d = rd.load_dashboard(sys.argv[2])
problems = []
variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
ds = variables.get("datasource", {})
if ds.get("type") != "datasource" or ds.get("query") != "prometheus":
    problems.append("no datasource variable of type prometheus")
for name in ("job", "instance"):
    if rd.variable_query(variables.get(name, {}))[1] != name:
        problems.append(f"no {name} variable from label_values(..., {name})")
if not 30 <= d.get("schemaVersion", 0) <= 39:
    problems.append(f"schemaVersion {d.get('schemaVersion')}")
ids, cells, count = set(), {}, 0
for row, p in rd.panels(d):
    where = f"{row} / {p.get('title')!r}"
    count += 1
    if not str(p.get("title", "")).strip():
        problems.append(f"{where}: no title")
    if p.get("id") in ids:
        problems.append(f"{where}: id {p.get('id')} used twice")
    ids.add(p.get("id"))
    ts = rd.targets(p)
    if not ts:
        problems.append(f"{where}: no targets")
    if len({t.get("refId") for t in ts}) != len(ts):
        problems.append(f"{where}: refIds repeat")
    for t in ts:
        expr = t.get("expr", "")
        if not expr.strip():
            problems.append(f"{where}: a target without expr")
            continue
        if "legendFormat" not in t:
            problems.append(f"{where}: a target without legendFormat")
        for selector in re.findall(r"\{[^}]*\}", expr):
            if ('job=~"$job"' not in selector or
                    'instance=~"$instance"' not in selector):
                problems.append(f"{where}: {selector} does not filter on "
                                "$job and $instance")
        for window in re.findall(r"\[([^\]]*)\]", expr):
            if window != "$__rate_interval":
                problems.append(f"{where}: range [{window}], not "
                                "[$__rate_interval]")
        if expr.count("(") != expr.count(")"):
            problems.append(f"{where}: unbalanced parentheses")
    g = p.get("gridPos", {})
    if not (0 <= g.get("x", -1) and g.get("x", 0) + g.get("w", 0) <= 24
            and g.get("w", 0) > 0 and g.get("h", 0) > 0):
        problems.append(f"{where}: gridPos {g}")
    for x in range(g.get("x", 0), g.get("x", 0) + g.get("w", 0)):
        for y in range(g.get("y", 0), g.get("y", 0) + g.get("h", 0)):
            if (x, y) in cells:
                problems.append(f"{where} overlaps {cells[(x, y)]!r}")
                break
            cells[(x, y)] = p.get("title")
        else:
            continue
        break
for problem in problems:
    print(f"FAIL  {problem}")
print(f"{count} panels, {sum(len(rd.targets(p)) for _, p in rd.panels(d))} "
      f"targets, {len(problems)} problems")
sys.exit(1 if problems else 0)
PY

daemon_test_begin
cd "$WORK"
umask 077

echo "--- a gateway, a client and a stand-in SNAP control plane"
start_daemon gw --grpc_listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
  --gateway_listen=127.0.0.1:0
GW_PUB="$("$CTL" pubkey "$WORK/gw.key")"
# Discovery names the gateway; every registration succeeds (an empty
# RegisterSnapTunIdentityResponse).
"$PYTHON" - "$GW_gw" "$GW_PUB" >"$WORK/cp.port" 2>"$WORK/cp.log" <<'PY' &
import base64, http.server, sys
address, key = sys.argv[1].encode(), base64.b64decode(sys.argv[2])
discovery = bytes([0x0A, len(address)]) + address + bytes([0x1A, 32]) + key
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = discovery if self.path.endswith("/GetSnapDataPlaneAddress") else b""
        self.send_response(200)
        self.send_header("Content-Type", "application/proto")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
PY
PIDS+=($!)
for _ in $(seq 100); do [[ -s "$WORK/cp.port" ]] && break; sleep 0.1; done
CP_URL="http://127.0.0.1:$(cat "$WORK/cp.port")"
printf 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJkYXNoYm9hcmQifQ.sig\n' >"$WORK/snap.token"
start_daemon client --grpc_listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
  --snap_token_file="$WORK/snap.token" --control_plane_plain_http_hosts=127.0.0.1
CLIENT_PUB="$("$CTL" pubkey "$WORK/client.key")"
G=("$CTL" --server="127.0.0.1:$PORT_gw")
C=("$CTL" --server="127.0.0.1:$PORT_client")
"${G[@]}" authorize "$CLIENT_PUB" --ttl=1h --label=test=dashboard >/dev/null

echo "--- Prometheus scrapes both every second"
cat >"$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: snaptun
    static_configs:
      - targets: ["127.0.0.1:$METRICS_gw"]
        labels: {instance: snaptund-gateway}
      - targets: ["127.0.0.1:$METRICS_client"]
        labels: {instance: snaptund-client}
YAML
# up_both: both targets scraped and up.
up_both() {
  "$PYTHON" - "http://127.0.0.1:$PROM_PORT" <<'PY'
import json, sys, urllib.parse, urllib.request
url = sys.argv[1] + "/api/v1/query?" + urllib.parse.urlencode({"query": "up == 1"})
try:
    d = json.load(urllib.request.urlopen(url, timeout=2))
except Exception:
    sys.exit(1)
sys.exit(0 if len(d["data"]["result"]) == 2 else 1)
PY
}
prometheus_start "$WORK/prometheus.yml"
prometheus_wait up_both
PROM="http://127.0.0.1:$PROM_PORT"
RUN_START="$(date +%s.%N)"
echo "Prometheus on $PROM"

echo "--- tunnels, packets both ways, churn, failing calls"
"${C[@]}" open --peer="$GW_PUB" --data_plane="$GW_gw" --id=up >/dev/null
"${C[@]}" open --peer="$GW_PUB" --data_plane="$GW_gw" --id=down >/dev/null
"${C[@]}" open --control_plane_url="$CP_URL" --id=via-control-plane >/dev/null
# The gateway's id of a client tunnel: the one whose remote address is the
# client tunnel's local address.
gateway_id() {
  local local_address
  local_address="$("${C[@]}" get "$1" --output=json |
    "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["local_address"])')"
  "${G[@]}" list --role=gateway --output=json | "$PYTHON" -c '
import json, sys
for t in json.load(sys.stdin)["tunnels"]:
    if t["remote_address"] == sys.argv[1]:
        print(t["tunnel_id"])
' "$local_address"
}
GW_UP="$(gateway_id up)"
GW_DOWN="$(gateway_id down)"
[[ -n "$GW_UP" && -n "$GW_DOWN" ]] || { echo "no gateway tunnels" >&2; exit 1; }
# Readers hold the receiving ends; watchers hold a WatchTunnels stream each.
HELPERS=()
"${G[@]}" recv "$GW_UP" --count=1000000000 --timeout=1h >/dev/null 2>&1 &
HELPERS+=($!)
"${C[@]}" recv down --count=1000000000 --timeout=1h >/dev/null 2>&1 &
HELPERS+=($!)
"${G[@]}" watch >/dev/null 2>&1 &
HELPERS+=($!)
"${C[@]}" watch >/dev/null 2>&1 &
HELPERS+=($!)
PIDS+=("${HELPERS[@]}")
# Payload files of 50 kB, each fewer lines than a tunnel queues (1024).
for size in 64 400 1200; do
  "$PYTHON" -c 'import sys; n, size = int(sys.argv[1]), int(sys.argv[2])
sys.stdout.write("".join(f"{i:08d}".ljust(size, "x") + "\n" for i in range(n)))' \
    $((50000 / size)) "$size" >"$WORK/payload.$size"
done
# Bursts of datagrams that are no protocol message or carry a bad MAC.
garbage() {
  "$PYTHON" - "$GW_gw" <<'PY'
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(40):
    size = 148 if i % 2 else 32 + i
    s.sendto(bytes([1 + i % 4]) + b"\x01" * (size - 1), (host, int(port)))
PY
}
traffic() {
  set +e
  local i=0 sizes=(64 400 1200 1200 400)
  while [[ ! -e "$WORK/stop" ]]; do
    local size="${sizes[$(((i / 6) % ${#sizes[@]}))]}"
    "${C[@]}" send up <"$WORK/payload.$size" >/dev/null 2>&1
    "${G[@]}" send "$GW_DOWN" <"$WORK/payload.$((size == 64 ? 1200 : 64))" \
      >/dev/null 2>&1
    if ((i % 3 == 0)); then
      "${C[@]}" open --peer="$GW_PUB" --data_plane="$GW_gw" --id="churn-$i" \
        >/dev/null 2>&1
      "${C[@]}" close "churn-$((i - 6))" >/dev/null 2>&1
      "${C[@]}" get "no-such-tunnel" >/dev/null 2>&1
      "${G[@]}" list --role=gateway >/dev/null 2>&1
      "${G[@]}" get "no-such-tunnel" >/dev/null 2>&1
    fi
    ((i % 10 == 5)) && garbage
    ((i++))
    sleep 0.2
  done
}
traffic &
TRAFFIC=$!
PIDS+=("$TRAFFIC")
# The gateway daemon's own identity is not authorized at its gateway: the
# handshake is refused (unauthorized) and the open fails.
"${G[@]}" open --peer="$GW_PUB" --data_plane="$GW_gw" --id=refused \
  --connect_timeout=3s >/dev/null 2>&1 &
REFUSED=$!
# A burst into four more tunnels nobody reads at the gateway: their queues
# fill and drop (receive_queue_full).
sleep 2
"${C[@]}" bench --peer="$GW_PUB" --data_plane="$GW_gw" --tunnels=4 \
  --rate=400 --size=800 --duration=4s --output=json >"$WORK/bench.json" \
  2>"$WORK/bench.log" || { cat "$WORK/bench.log" >&2; exit 1; }
wait "$REFUSED" && { echo "an unauthorized open succeeded" >&2; exit 1; }
sleep 6

echo "--- every panel's queries against Prometheus"
status=0
"$PYTHON" - "$MONITORING" "$DASHBOARD" "$PROM" 30 <<'PY' || status=$?
import sys, time
sys.path.insert(0, sys.argv[1])
import render_dashboard as rd
d = rd.load_dashboard(sys.argv[2])
prom = rd.Prometheus(sys.argv[3], timeout=10)
began = time.monotonic()
deadline = began + float(sys.argv[4])
variables = {"__rate_interval": "30s", "__interval": "1s", "__range": "30s",
             "job": ".*", "instance": ".*"}
checks = []  # (name, query)
for v in d["templating"]["list"]:
    query, _ = rd.variable_query(v)
    if query:
        checks.append((f"variable ${v['name']}", rd.substitute(query, variables)))
for row, p in rd.panels(d):
    for t in rd.targets(p):
        checks.append((f"{row} / {p['title']} [{t['refId']}]",
                       rd.substitute(t["expr"], variables)))
outcome = {}
pending = list(range(len(checks)))
while True:
    for i in pending:
        status, data, error = prom.query(checks[i][1])
        series = len(rd.series_of(data)) if status == "success" else 0
        outcome[i] = (status == "success" and series > 0, series,
                      error if status != "success" else "no series")
    pending = [i for i in pending if not outcome[i][0]]
    if not pending or time.monotonic() >= deadline:
        break
    time.sleep(1)
width = max(len(name) for name, _ in checks)
for i, (name, query) in enumerate(checks):
    ok, series, why = outcome[i]
    print(f"{'OK  ' if ok else 'FAIL'}  {name:<{width}}  "
          f"{f'{series} series' if ok else why}")
failed = [checks[i] for i in pending]
print(f"{len(checks) - len(failed)} of {len(checks)} queries OK "
      f"({time.monotonic() - began:.1f} s)")
if failed:
    print("failed:")
    for name, query in failed:
        print(f"  {name}: {query}")
sys.exit(1 if failed else 0)
PY

if [[ -n "$RENDER" ]]; then
  echo "--- drawing the panels into $RENDER"
  "$PYTHON" "$MONITORING/render_dashboard.py" "$PROM" "$DASHBOARD" \
    "$RUN_START" "$(date +%s.%N)" "$RENDER" --scrape_interval=1 --step=1 \
    job='.*' instance='.*'
fi

touch "$WORK/stop"
wait "$TRAFFIC" || true
for pid in "${HELPERS[@]}"; do kill "$pid" 2>/dev/null || true; done
for pid in "${HELPERS[@]}"; do wait "$pid" 2>/dev/null || true; done
stop_daemon client TERM
stop_daemon gw TERM
echo "took $((SECONDS - TEST_START)) s"
if ((status != 0)); then
  echo FAIL
  exit 1
fi
echo PASS
