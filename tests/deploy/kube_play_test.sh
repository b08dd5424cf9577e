#!/usr/bin/env bash
# Runs the rendered Kubernetes manifests, not just renders them: both
# overlays under `podman kube play` (Debian's podman 4.3), on the image
# deploy/image/build.sh builds, with the Secrets created by the
# `kubectl create secret generic` lines of docs/OPERATIONS.md. Checks:
#   - every pod starts, /healthz and /readyz answer 200 (podman 4.3 runs no
#     readiness probe: the test asks /readyz itself), as uid 65532 on a
#     read-only root filesystem, with the key from the Secret;
#   - snaptunctl reaches the client pod's API through its published port
#     (127.0.0.1), with the token from the Secret, and is refused without;
#   - scaling out: an orchestrator finds the gateway replicas the way the
#     headless Service would (pods matching its selector, ready ones only),
#     authorizes the client's identity on each, and the client pod opens a
#     tunnel to each gateway pod (pod to pod on the podman network) and
#     packets cross both ways;
#   - /metrics is scraped from every pod and counts those tunnels;
#   - SIGTERM drains every pod to exit 0 within terminationGracePeriodSeconds
#     (and, once the flags set --lame_duck, /readyz turns 503 first).
# What podman 4.3 does not do that the kubelet would (Secret volume modes
# and fsGroup, probes, the grace period, Services, NetworkPolicies,
# ServiceMonitors) is done here by hand or checked by meaning.mjs; see
# docs/OPERATIONS.md. Run by scripts/test.sh outside Bazel, as root.
# SNAPTUND and SNAPTUNCTL name the binaries (default: bazel-bin's);
# KEEP_WORK=1 keeps the work directory (rendered and played YAML, logs).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/scripts/deps.sh"
snaptun_install_packages podman runc uidmap catatonit ca-certificates curl \
  iptables python3
command -v npm >/dev/null || snaptun_install_packages nodejs npm
command -v kubectl >/dev/null || {
  echo "kubectl is needed (it ships with this machine image)" >&2
  exit 1
}
source "$ROOT/tests/deploy/node_deps.sh"
export CONTAINERS_CONF="$ROOT/deploy/image/containers.conf"
SNAPTUND="${SNAPTUND:-$ROOT/bazel-bin/service/daemon/snaptund}"
CTL="${SNAPTUNCTL:-$ROOT/bazel-bin/cli/snaptunctl}"
IMAGE="localhost/snaptun:kube-play-$$"
NET="snaptun-kube-play-$$"
WORK="$(mktemp -d)"
TIMEOUT=60  # Seconds any positive wait may take.

# Pod, Secret and volume names come from the manifests: one run at a time.
exec 8>/var/tmp/snaptun-kube-play.lock
flock 8

PODS=()
SECRETS=()
VOLUMES=()
cleanup() {
  local status=$?
  wait  # A `podman stop` under way.
  if ((status != 0)); then
    for log in ctl.err podman.err; do
      [[ -s "$WORK/$log" ]] && { echo "--- $log" >&2; tail -n 20 "$WORK/$log" >&2; }
    done
    for pod in "${PODS[@]}"; do
      echo "--- log of $pod" >&2
      podman logs "$pod-snaptund" 2>&1 | tail -n 30 >&2 || true
    done
  fi
  ((${#PODS[@]} == 0)) || podman pod rm -f "${PODS[@]}" >/dev/null 2>&1 || true
  for secret in "${SECRETS[@]}"; do podman secret rm "$secret" >/dev/null 2>&1 || true; done
  for volume in "${VOLUMES[@]}"; do podman volume rm -f "$volume" >/dev/null 2>&1 || true; done
  podman network rm -f "$NET" >/dev/null 2>&1 || true
  podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
  [[ -n "${KEEP_WORK:-}" ]] || rm -rf "$WORK"
  exit $status
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# wait_http URL CODE: until URL answers CODE, at most $TIMEOUT seconds.
wait_http() {
  local url="$1" want="$2" got="" deadline=$((SECONDS + TIMEOUT))
  while ((SECONDS < deadline)); do
    got="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)"
    [[ "$got" == "$want" ]] && return 0
    sleep 0.2
  done
  fail "$url answered '$got', not $want, for $TIMEOUT s"
}

# metric TEXT_FILE SERIES: the value of one series (0 when absent).
metric() {
  awk -v s="$2" '$1 == s {print $2; found = 1} END {if (!found) print 0}' "$1"
}

echo "--- image"
SNAPTUND="$SNAPTUND" SNAPTUNCTL="$CTL" "$ROOT/deploy/image/build.sh" "$IMAGE"

echo "--- render both overlays"
cp "$ROOT/tests/deploy/podman_play.mjs" "$WORK/"
deploy_node_modules "$WORK"
for role in client gateway; do
  kubectl kustomize "$ROOT/deploy/k8s/overlays/$role" >"$WORK/$role.yaml"
  node "$WORK/podman_play.mjs" facts "$WORK/$role.yaml" "${role^^}" \
    >"$WORK/$role.facts"
  # shellcheck source=/dev/null
  source "$WORK/$role.facts"
done
GATEWAY_REPLICAS=2
CLIENT_POD="$CLIENT_DEPLOYMENT-pod-0"
GATEWAY_PODS=()
for ((i = 0; i < GATEWAY_REPLICAS; i++)); do
  GATEWAY_PODS+=("$GATEWAY_DEPLOYMENT-pod-$i")
done
PODS=("$CLIENT_POD" "${GATEWAY_PODS[@]}")
SECRETS=("$CLIENT_SECRET_NAME" "$GATEWAY_SECRET_NAME")
# podman keeps a ConfigMap or Secret volume as a named volume of that name.
VOLUMES=("$CLIENT_SECRET_NAME" "$GATEWAY_SECRET_NAME"
  "$CLIENT_DEPLOYMENT-config" "$GATEWAY_DEPLOYMENT-config")
# What a killed earlier run may have left.
for pod in "${PODS[@]}"; do podman pod rm -f "$pod" >/dev/null 2>&1 || true; done
for volume in "${VOLUMES[@]}"; do podman volume rm -f "$volume" >/dev/null 2>&1 || true; done

echo "--- Secrets, created as docs/OPERATIONS.md says"
mkdir -m 0700 "$WORK/secrets"
(
  cd "$WORK/secrets"
  umask 077
  "$CTL" keygen --out=client.key >/dev/null
  "$CTL" keygen --out=gateway.key >/dev/null
  head -c 32 /dev/urandom | base64 >api.token
  head -c 32 /dev/urandom | base64 >snap.token
  # Every `kubectl create secret generic` command of the docs, continuation
  # lines joined, run as written plus --dry-run=client -o yaml (there is no
  # cluster): the same Secret objects, which podman kube play stores.
  awk '/^kubectl create secret generic / {
         line = $0
         while (line ~ /\\$/) { sub(/\\$/, "", line); getline next_line; line = line next_line }
         print line
       }' "$ROOT/docs/OPERATIONS.md" >commands
  [[ $(wc -l <commands) -eq 2 ]] || fail "docs/OPERATIONS.md: $(wc -l <commands) secret commands, not 2"
  while read -r command; do
    eval "$command --dry-run=client -o yaml"
    echo "---"
  done <commands >secrets.yaml
)
# (Without --network, kube play would create a network of its own.)
podman network create "$NET" >/dev/null
podman kube play --network="$NET" "$WORK/secrets/secrets.yaml" >/dev/null
for secret in "$CLIENT_SECRET_NAME" "$GATEWAY_SECRET_NAME"; do
  podman secret inspect "$secret" >/dev/null ||
    fail "the docs do not create Secret $secret, which the pods mount"
done

echo "--- play both overlays (gateway: $GATEWAY_REPLICAS replicas; client: API and metrics published)"
read -r API_PORT METRICS_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
node "$WORK/podman_play.mjs" play "$WORK/client.yaml" "$WORK/client-play.yaml" \
  "$IMAGE" 1 "grpc=$API_PORT,metrics=$METRICS_PORT"
node "$WORK/podman_play.mjs" play "$WORK/gateway.yaml" "$WORK/gateway-play.yaml" \
  "$IMAGE" "$GATEWAY_REPLICAS"
for role in gateway client; do
  # Created, not started: the Secret volume needs the kubelet's treatment.
  podman kube play --network="$NET" --start=false "$WORK/$role-play.yaml" \
    >"$WORK/$role-play.out" 2>"$WORK/$role-play.err" || {
    cat "$WORK/$role-play.err" >&2
    fail "podman kube play $role"
  }
done

# mount_secret ROLE: what the kubelet does with the Secret volume and podman
# 4.3 does not: the values decoded (4.3 writes them still base64-encoded),
# the files given the pod's fsGroup and the volume's defaultMode. Each file
# must then equal the file the docs' command read.
mount_secret() {
  local role="${1^^}" name mode group dir key file source
  name="${role}_SECRET_NAME" mode="${role}_SECRET_MODE" group="${role}_FS_GROUP"
  dir="$(podman volume inspect --format '{{.Mountpoint}}' "${!name}")"
  grep -- "generic ${!name} " "$WORK/secrets/commands" |
    grep -o -- '--from-file=[^ ]*' | sed 's/^--from-file=//' >"$WORK/$role.keys"
  while IFS='=' read -r key source; do
    file="$dir/$key"
    [[ -f "$file" ]] || fail "Secret ${!name} has no key $key in podman's volume"
    if ! cmp -s "$file" "$WORK/secrets/$source"; then
      base64 -d "$file" >"$file.decoded"
      cmp -s "$file.decoded" "$WORK/secrets/$source" ||
        fail "$key in ${!name} is neither $source nor its base64"
      mv "$file.decoded" "$file"
    fi
    chgrp "${!group}" "$file"
    chmod "${!mode}" "$file"
  done <"$WORK/$role.keys"
}
mount_secret client
mount_secret gateway
# podman's clean-up processes inherit stderr: into a file, not the log.
for pod in "${PODS[@]}"; do podman pod start "$pod" >/dev/null 2>>"$WORK/podman.err"; done

echo "--- pods start and are ready"
declare -A IP
for pod in "${PODS[@]}"; do
  IP[$pod]="$(podman inspect --format \
    '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$pod-snaptund")"
  [[ -n "${IP[$pod]}" ]] || fail "$pod has no address on $NET"
done
for pod in "${PODS[@]}"; do
  port="$GATEWAY_METRICS_PORT"
  [[ $pod == "$CLIENT_POD" ]] && port="$CLIENT_METRICS_PORT"
  wait_http "http://${IP[$pod]}:$port/healthz" 200
  wait_http "http://${IP[$pod]}:$port/readyz" 200
  user="$(podman inspect --format '{{.Config.User}}' "$pod-snaptund")"
  [[ "$user" == "$CLIENT_RUN_AS_USER:"* ]] || fail "$pod runs as '$user'"
  [[ "$(podman inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$pod-snaptund")" == true ]] ||
    fail "$pod has a writable root filesystem"
  echo "$pod: ready at ${IP[$pod]}, user $user, read-only root"
done
wait_http "http://127.0.0.1:$METRICS_PORT/readyz" 200
CLIENT_PUB="$("$CTL" pubkey "$WORK/secrets/client.key")"
GATEWAY_PUB="$("$CTL" pubkey "$WORK/secrets/gateway.key")"
for pod in "${PODS[@]}"; do
  key="$GATEWAY_PUB"
  [[ $pod == "$CLIENT_POD" ]] && key="$CLIENT_PUB"
  podman logs "$pod-snaptund" >"$WORK/$pod.log" 2>&1
  grep -qF "public key $key" "$WORK/$pod.log" ||
    fail "$pod does not use the key from its Secret"
done

echo "--- the client pod's API through the published port 127.0.0.1:$API_PORT"
TOKEN="$WORK/secrets/api.token"
C=("$CTL" --server="127.0.0.1:$API_PORT" --token_file="$TOKEN" --timeout=20s)
[[ "$("${C[@]}" list --output=json)" == '{}' ]] || fail "client list"
status=0
"$CTL" --server="127.0.0.1:$API_PORT" list 2>"$WORK/err" || status=$?
if [[ $status -ne 1 ]] || ! grep -q "UNAUTHENTICATED" "$WORK/err"; then
  fail "a call without the token was not refused: $(cat "$WORK/err")"
fi
echo "token from the Secret accepted; no token: $(cat "$WORK/err")"

echo "--- scaling out: the headless Service's replicas, identity authorized on each"
# The headless Service $GATEWAY_HEADLESS resolves to the ready pods its
# selector matches; podman's pods carry the template's labels.
read -ra filters <<<"$GATEWAY_HEADLESS_FILTER"
mapfile -t REPLICAS < <(podman pod ps "${filters[@]}" \
  --filter=status=running --format '{{.Name}}' | sort)
[[ ${#REPLICAS[@]} -eq $GATEWAY_REPLICAS ]] ||
  fail "$GATEWAY_HEADLESS selects ${REPLICAS[*]:-no pod}"
[[ "${REPLICAS[*]}" == "${GATEWAY_PODS[*]}" ]] ||
  fail "$GATEWAY_HEADLESS selects ${REPLICAS[*]}, not ${GATEWAY_PODS[*]}"
ADDRESSES=()
for pod in "${REPLICAS[@]}"; do
  wait_http "http://${IP[$pod]}:$GATEWAY_METRICS_PORT/readyz" 200
  ADDRESSES+=("${IP[$pod]}")
done
echo "$GATEWAY_HEADLESS A records: ${ADDRESSES[*]}"
for address in "${ADDRESSES[@]}"; do
  G=("$CTL" --server="$address:$GATEWAY_GRPC_PORT" --token_file="$TOKEN" --timeout=20s)
  "${G[@]}" authorize "$CLIENT_PUB" --label=by=kube-play-test >/dev/null
  "${G[@]}" identities | grep -qF "$CLIENT_PUB" ||
    fail "$address does not list the authorized identity"
  "${G[@]}" gateway-info | grep -qF "$GATEWAY_PUB" ||
    fail "$address does not serve the gateway key"
done

echo "--- the client pod opens a tunnel to each gateway pod; packets cross both ways"
for i in "${!ADDRESSES[@]}"; do
  address="${ADDRESSES[$i]}"
  G=("$CTL" --server="$address:$GATEWAY_GRPC_PORT" --token_file="$TOKEN" --timeout=20s)
  "${C[@]}" open --id="via-gateway-$i" --peer="$GATEWAY_PUB" \
    --data_plane="$address:$GATEWAY_UDP_PORT" --connect_timeout=30s \
    --label=test=kube-play >/dev/null 2>>"$WORK/ctl.err"
  "${C[@]}" get "via-gateway-$i" --output=json |
    grep -q '"state":"TUNNEL_STATE_ESTABLISHED"' || fail "tunnel $i not established"
  gateway_id="$("${G[@]}" list --role=gateway --output=json | python3 -c '
import json, sys
tunnels = json.load(sys.stdin)["tunnels"]
assert len(tunnels) == 1, tunnels
print(tunnels[0]["tunnel_id"])')"
  # Packets that arrive before a reader attaches wait in the tunnel's queue.
  printf 'up %d.1\nup %d.2\nup %d.3\n' "$i" "$i" "$i" | "${C[@]}" send "via-gateway-$i" 2>>"$WORK/ctl.err"
  "${G[@]}" recv "$gateway_id" --count=3 --timeout=30s >"$WORK/up-$i.txt"
  diff <(printf 'up %d.1\nup %d.2\nup %d.3\n' "$i" "$i" "$i") "$WORK/up-$i.txt" ||
    fail "client → gateway $i"
  printf 'down %d.1\ndown %d.2\n' "$i" "$i" | "${G[@]}" send "$gateway_id" 2>>"$WORK/ctl.err"
  "${C[@]}" recv "via-gateway-$i" --count=2 --timeout=30s >"$WORK/down-$i.txt"
  diff <(printf 'down %d.1\ndown %d.2\n' "$i" "$i") "$WORK/down-$i.txt" ||
    fail "gateway $i → client"
  echo "tunnel via-gateway-$i to ${GATEWAY_PODS[$i]} ($address): 3 packets up, 2 down"
done

echo "--- /metrics scraped from every pod"
curl -sf --max-time 5 -D "$WORK/client.headers" -o "$WORK/client.metrics" \
  "http://127.0.0.1:$METRICS_PORT/metrics"
grep -qi '^content-type: text/plain; version=0.0.4' "$WORK/client.headers" ||
  fail "client /metrics content type"
established="$(metric "$WORK/client.metrics" 'snaptun_tunnels{role="client",state="established"}')"
sent="$(metric "$WORK/client.metrics" 'snaptun_packets_total{direction="tx",role="client"}')"
handshakes="$(metric "$WORK/client.metrics" 'snaptun_handshakes_completed_total{role="client"}')"
((established == GATEWAY_REPLICAS && sent >= 3 * GATEWAY_REPLICAS && handshakes >= GATEWAY_REPLICAS)) ||
  fail "client metrics: $established established, $sent sent, $handshakes handshakes"
echo "client: $established tunnels established, $sent packets sent, $handshakes handshakes"
for pod in "${GATEWAY_PODS[@]}"; do
  curl -sf --max-time 5 -o "$WORK/$pod.metrics" \
    "http://${IP[$pod]}:$GATEWAY_METRICS_PORT/metrics"
  received="$(metric "$WORK/$pod.metrics" 'snaptun_packets_total{direction="rx",role="gateway"}')"
  tunnels="$(metric "$WORK/$pod.metrics" 'snaptun_tunnels{role="gateway",state="established"}')"
  ((received >= 3 && tunnels == 1)) ||
    fail "$pod metrics: $received packets received, $tunnels tunnels"
  echo "$pod: $tunnels tunnel, $received packets received"
done

echo "--- SIGTERM drains every pod to exit 0 within terminationGracePeriodSeconds"
# podman 4.3 ignores terminationGracePeriodSeconds: it is given to
# `podman stop`, which sends SIGTERM and kills only after that long. Only
# the snaptund container is stopped, as the kubelet would: `podman pod
# stop` stops the infra container at the same time, and the pod's network
# with it, in the middle of the lame duck.
lame_duck_flag="$(grep -o -- '--lame_duck=[^[:space:]]*' "$WORK/client.yaml" || true)"
for pod in "$CLIENT_POD" "${GATEWAY_PODS[@]}"; do
  grace="$GATEWAY_GRACE" port="$GATEWAY_METRICS_PORT"
  [[ $pod == "$CLIENT_POD" ]] && grace="$CLIENT_GRACE" port="$CLIENT_METRICS_PORT"
  start=$SECONDS
  podman stop --time="$grace" "$pod-snaptund" >/dev/null &
  stopper=$!
  if [[ $pod == "$CLIENT_POD" && -n "$lame_duck_flag" ]]; then
    # Lame duck: not ready, still alive, before the drain.
    wait_http "http://${IP[$pod]}:$port/readyz" 503
    [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
      "http://${IP[$pod]}:$port/healthz")" == 200 ]] ||
      fail "$pod stopped answering /healthz in its lame duck"
    echo "$pod: /readyz 503 and /healthz 200 during $lame_duck_flag"
  fi
  wait "$stopper"
  code="$(podman inspect --format '{{.State.ExitCode}}' "$pod-snaptund")"
  [[ "$code" == 0 ]] || fail "$pod exited $code after SIGTERM"
  podman logs "$pod-snaptund" >"$WORK/$pod.log" 2>&1
  grep -q "snaptund: drained" "$WORK/$pod.log" || fail "$pod did not drain"
  echo "$pod: drained, exit 0 after $((SECONDS - start)) s (grace $grace s)"
done
echo PASS
