#!/usr/bin/env bash
# snaptunctl as a well-behaved CLI, against a real snaptund: unknown
# commands and nonsense flag values are usage errors (exit 2) before any
# call; failed calls print `error: CODE: message (reason REASON)` and exit 1;
# identities, gateway-info, version and bash completion work; tables align
# by display width; JSON lists are one object; bench draws no progress when
# stderr is not a terminal.
#   snaptunctl_test.sh SNAPTUND SNAPTUNCTL
set -euo pipefail
SNAPTUND="$(realpath "$1")"
CTL="$(realpath "$2")"
WORK="$(mktemp -d)"
PID=""
cleanup() {
  [[ -n "$PID" ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"

"$SNAPTUND" --private_key_file="$WORK/d.key" --grpc_listen=127.0.0.1:0 \
  --metrics_listen=127.0.0.1:0 --gateway_listen=127.0.0.1:0 2>"$WORK/d.log" &
PID=$!
for _ in $(seq 600); do
  grep -q "snaptund: ready" "$WORK/d.log" && break
  sleep 0.1
done
PORT="$(sed -n 's/.*gRPC on port \([0-9]*\).*/\1/p' "$WORK/d.log")"
GW="$(sed -n 's/.*gateway listening on \([0-9.:]*\) .*/\1/p' "$WORK/d.log")"
C=("$CTL" --server="127.0.0.1:$PORT")
KEY="$("$CTL" pubkey "$WORK/d.key")"

# expect_usage ARGS...: exit 2 and a message naming the problem.
expect_usage() {
  local status=0
  "${C[@]}" "$@" >"$WORK/out" 2>"$WORK/err" || status=$?
  [[ $status -eq 2 ]] || { echo "'$*' exited $status, not 2" >&2; cat "$WORK/err" >&2; exit 1; }
}

echo "--- usage errors exit 2, before any call"
expect_usage foo
grep -q "unknown command foo" "$WORK/err"
expect_usage foo --mode=bogus
grep -q "unknown command foo" "$WORK/err"  # The command is checked first.
expect_usage open --mode=bogus --peer="$KEY" --data_plane="$GW"
grep -q -- "--mode must be snap or wireguard" "$WORK/err"
expect_usage list --role=bogus
grep -q -- "--role must be client or gateway" "$WORK/err"
expect_usage list --output=yaml
grep -q -- "--output must be table or json" "$WORK/err"
expect_usage open --peer="$KEY" --data_plane="$GW" --label=nolabel
grep -q -- "--label must be key=value" "$WORK/err"
expect_usage authorize "$KEY" --ttl=-1h
grep -q -- "--ttl must be positive" "$WORK/err"
expect_usage list --state=sleeping
expect_usage bench --peer="$KEY" --data_plane="$GW" --window=-1
grep -q -- "--window and --keepalive not negative" "$WORK/err"
expect_usage get
grep -q "get needs a tunnel id" "$WORK/err"
expect_usage
"${C[@]}" list >/dev/null  # None of the above changed anything.
[[ "$("${C[@]}" list --output=json)" == '{}' ]]

echo "--- failed calls: the code by name and the reason, exit 1"
status=0
"${C[@]}" get missing 2>"$WORK/err" || status=$?
[[ $status -eq 1 ]]
grep -q "^error: NOT_FOUND: no tunnel missing.*(reason TUNNEL_NOT_FOUND)$" "$WORK/err"
status=0
"${C[@]}" open --peer=c2hvcnQ= --data_plane="$GW" 2>"$WORK/err" || status=$?
[[ $status -eq 2 ]]  # Not a 32-byte key: caught before the call.

echo "--- identities, gateway-info, version, completion"
"${C[@]}" authorize "$KEY" --ttl=1h --label=team=blue >/dev/null
"${C[@]}" identities | grep -q "^PUBLIC KEY"
"${C[@]}" identities | grep -qF "$KEY"
"${C[@]}" identities --output=json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert len(d["identities"]) == 1, d'
"${C[@]}" gateway-info | grep -qF "$GW"
"${C[@]}" gateway-info --output=json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["listen_addresses"] == [sys.argv[1]], d' "$GW"
"$CTL" version | grep -q "^snaptunctl "
"$CTL" completion bash >"$WORK/completion.bash"
grep -q "complete -F _snaptunctl snaptunctl" "$WORK/completion.bash"
(
  source "$WORK/completion.bash"
  COMP_WORDS=(snaptunctl gat)
  COMP_CWORD=1
  _snaptunctl
  [[ "${COMPREPLY[*]}" == "gateway-info" ]]
  COMP_WORDS=(snaptunctl list --role=)
  COMP_CWORD=2
  _snaptunctl
  [[ "${COMPREPLY[*]}" == "client gateway" ]]
)

echo "--- tables align by display width; JSON lists are one object"
"${C[@]}" open --id=t1 --peer="$KEY" --data_plane="$GW" --label=team=blue \
  >"$WORK/open.txt" 2>/dev/null
"${C[@]}" list >"$WORK/table.txt"
/usr/bin/python3 - "$WORK/table.txt" <<'PY'
import sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
assert len(lines) == 3, lines  # Header, the client side, the gateway side.
header = lines[0]
starts = [i for i in range(len(header)) if header[i] != " " and (i == 0 or header[i - 1] == " ")]
for line in lines[1:]:
    for start in starts[1:]:
        # Every column starts where its header does, counted in characters.
        assert line[start - 1] == " " and line[start] != " ", (start, line)
PY
"${C[@]}" list --output=json | /usr/bin/python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
assert sorted(t["role"] for t in d["tunnels"]) == ["ROLE_CLIENT", "ROLE_GATEWAY"], d'

echo "--- bench: no progress drawing when stderr is not a terminal"
"${C[@]}" bench --peer="$KEY" --data_plane="$GW" --tunnels=2 --rate=100 \
  --duration=1s >"$WORK/bench.out" 2>"$WORK/bench.err"
if grep -q $'\r' "$WORK/bench.err"; then
  echo "bench drew progress into a file" >&2; exit 1
fi

echo "--- bench --window: an unpaced sender keeps at most a window in flight"
"${C[@]}" bench --peer="$KEY" --data_plane="$GW" --tunnels=2 --rate=0 \
  --window=256 --duration=1s --output=json 2>/dev/null >"$WORK/window.json"
/usr/bin/python3 - "$WORK/window.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
# Unpaced without a window the sender outruns the tunnels and about nine
# packets in ten are lost. Within a window each packet sent is echoed,
# reported dropped, written off by the window (in flight when no echo had
# come for 50 ms, which a slow machine sees more often) or still in flight
# at the end: at most the window, per tunnel. That holds at any speed.
assert d["sent"] > 0 and d["echoed"] <= d["sent"], d
unreturned = d["sent"] - d["echoed"] - d["dropped"]
assert unreturned <= 2 * 256 + d["written_off"], d
PY
echo PASS
