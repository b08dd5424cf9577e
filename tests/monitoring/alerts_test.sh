#!/usr/bin/env bash
# Checks the alert rules in deploy/monitoring:
#   1. promtool check rules deploy/monitoring/alerts.yaml
#   2. promtool test rules tests/monitoring/alerts_test.yaml
#   3. sync_rules.py --check: prometheusrule.yaml holds the same groups
# Then it breaks each alert on a copy (a threshold, a floor, a selector)
# and requires the unit tests to fail, so that they keep pinning the rules.
# A broken prometheusrule.yaml must fail the sync check too.
#
# Run it from anywhere: tests/monitoring/alerts_test.sh
# As //tests/monitoring:alerts_test, it finds the files in its runfiles.
set -euo pipefail
if [[ -n "${TEST_SRCDIR:-}" ]]; then
  ROOT="$TEST_SRCDIR/${TEST_WORKSPACE:-snaptun}"
else
  ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fi
for tool in promtool python3; do
  command -v "$tool" >/dev/null || {
    echo "missing $tool: run ./scripts/test.sh, which installs it" >&2
    exit 1
  }
done
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# A copy in the repository's layout: the test file names the rules as
# ../../deploy/monitoring/alerts.yaml, and sync_rules.py reads the files
# next to itself. Runfiles are symlinks; the copy holds real files.
copy() {
  local dest="$1"
  mkdir -p "$dest/deploy/monitoring" "$dest/tests/monitoring"
  cp -L "$ROOT"/deploy/monitoring/{alerts.yaml,prometheusrule.yaml,sync_rules.py} \
    "$dest/deploy/monitoring/"
  cp -L "$ROOT/tests/monitoring/alerts_test.yaml" "$dest/tests/monitoring/"
}
copy "$WORK/good"
cd "$WORK/good"

echo "--- promtool check rules"
promtool check rules deploy/monitoring/alerts.yaml
echo "--- promtool test rules"
promtool test rules tests/monitoring/alerts_test.yaml
echo "--- prometheusrule.yaml in sync"
python3 deploy/monitoring/sync_rules.py --check

# replace FILE OLD NEW: OLD must occur exactly once in FILE.
replace() {
  python3 - "$@" <<'PY'
import sys
path, old, new = sys.argv[1:]
text = open(path).read()
if text.count(old) != 1:
    sys.exit(f"{path}: {old!r} occurs {text.count(old)} times, not once")
open(path, "w").write(text.replace(old, new))
PY
}

# mutant NAME OLD NEW: the tests must fail on alerts.yaml with OLD made NEW.
FAILED=0
mutant() {
  local dir="$WORK/mutant"
  rm -rf "$dir"
  copy "$dir"
  if ! replace "$dir/deploy/monitoring/alerts.yaml" "$2" "$3"; then
    echo "FAIL: mutant '$1' no longer applies; update $0" >&2
    FAILED=1
  elif (cd "$dir" && promtool test rules tests/monitoring/alerts_test.yaml) \
    >"$WORK/mutant.log" 2>&1; then
    echo "FAIL: the tests pass with $1 broken ('$2' -> '$3')" >&2
    FAILED=1
  else
    echo "caught: $1"
  fi
}

echo "--- each alert broken must fail the tests"
mutant "the failure ratio threshold" \
  ') > 0.25' ') > 0.75'
mutant "rate_limited counted in the failure ratio's numerator" \
  $'{reason!="rate_limited"}[5m]))\n            /' \
  $'[5m]))\n            /'
mutant "rate_limited counted in the failure ratio's denominator" \
  $'{reason!="rate_limited"}[5m]))\n                + sum' \
  $'[5m]))\n                + sum'
mutant "rate_limited counted in the failure floor" \
  '{reason!="rate_limited"}[5m])) > 0.05' \
  '[5m])) > 0.05'
mutant "the drop-rate ratio" \
  $') > 0.01\n          and' \
  $') > 0.004\n          and'
mutant "the drop-rate floor" \
  'rate(snaptun_packets_dropped_total[5m])) > 1' \
  'rate(snaptun_packets_dropped_total[5m])) > 0.1'
mutant "the tunnels threshold" \
  $'(snaptun_tunnel_quota{kind="limit"} > 0)\n          > 0.9' \
  $'(snaptun_tunnel_quota{kind="limit"} > 0)\n          > 0.85'
mutant "the guard against a tunnel limit of 0" \
  'snaptun_tunnel_quota{kind="limit"} > 0)' \
  'snaptun_tunnel_quota{kind="limit"} >= 0)'
mutant "the per-identity threshold" \
  $'(snaptun_tunnels_per_identity{kind="limit"} > 0)\n          > 0.9' \
  $'(snaptun_tunnels_per_identity{kind="limit"} > 0)\n          > 0.95'
mutant "the guard against a per-identity limit of 0" \
  'snaptun_tunnels_per_identity{kind="limit"} > 0)' \
  'snaptun_tunnels_per_identity{kind="limit"} >= 0)'
mutant "the wait of SnaptunIdentityTunnelsNearLimit" \
  $'for: 15m\n        labels:\n          severity: ticket\n        annotations:\n          summary: "One peer key' \
  $'for: 5m\n        labels:\n          severity: ticket\n        annotations:\n          summary: "One peer key'
mutant "the identities threshold" \
  $'(snaptun_identities{kind="limit"} > 0)\n          > 0.9' \
  $'(snaptun_identities{kind="limit"} > 0)\n          > 0.96'
mutant "the watchers threshold" \
  $'(snaptun_watchers{kind="limit"} > 0)\n          > 0.9' \
  $'(snaptun_watchers{kind="limit"} > 0)\n          > 0.95'
mutant "refused initiations counting at a gateway" \
  'initiations_received_total{role="gateway", outcome="answered"}' \
  'initiations_received_total{role="gateway", outcome=~"answered|refused"}'
mutant "cookie-answered initiations counting at a gateway" \
  'initiations_received_total{role="gateway", outcome="answered"}' \
  'initiations_received_total{role="gateway", outcome=~"answered|cookie"}'
mutant "a gateway's own initiations counting as a client's" \
  'handshakes_initiated_total{role="client"}' \
  'handshakes_initiated_total'
mutant "the floor of SnaptunNoHandshakesCompleting" \
  $') > 0.01\n          unless' \
  $') > 0.001\n          unless'
mutant "the registration failure window" \
  'result="failure"}[5m])) > 0' \
  'result="failure"}[15m])) > 0'
mutant "the job selector of SnaptunTargetDown" \
  'up{job=~".*snaptund.*"} == 0' \
  'up == 0'
mutant "the wait of SnaptunTargetMissing" \
  $'for: 15m\n        labels:\n          severity: ticket\n        annotations:\n          summary: "Prometheus scrapes no' \
  $'for: 10m\n        labels:\n          severity: ticket\n        annotations:\n          summary: "Prometheus scrapes no'
mutant "the API error codes (Internal dropped)" \
  $'grpc_code=~"Unknown|Internal|DataLoss|Unavailable"}[5m]))\n            /' \
  $'grpc_code=~"Unknown|DataLoss|Unavailable"}[5m]))\n            /'
mutant "the API error floor" \
  ') >= 5' ') >= 1'

echo "--- a stale prometheusrule.yaml must fail the sync check"
rm -rf "$WORK/mutant"
copy "$WORK/mutant"
echo "# edited by hand" >>"$WORK/mutant/deploy/monitoring/prometheusrule.yaml"
if python3 "$WORK/mutant/deploy/monitoring/sync_rules.py" --check \
  >"$WORK/mutant.log" 2>&1; then
  echo "FAIL: sync_rules.py --check passes a stale prometheusrule.yaml" >&2
  FAILED=1
else
  echo "caught: $(tail -n 1 "$WORK/mutant.log")"
fi

[[ $FAILED == 0 ]] || exit 1
echo "PASS"
