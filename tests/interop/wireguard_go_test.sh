#!/usr/bin/env bash
# Interop with Debian's wireguard-go, in a network namespace of its own:
# snaptun in WireGuard mode completes a handshake and an ICMP echo through
# wireguard-go, first as initiator, then as responder. The kernel behind
# wireguard-go writes the echo replies. Needs root; cleans up after itself.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
WG_PEER="$1"

for tool in ip wg wireguard-go; do
  command -v "$tool" >/dev/null || {
    echo "missing $tool: run ./scripts/test.sh, which installs it" >&2
    exit 1
  }
done

NS="snaptun-wg-$$"
IFACE="wgst$$"
IFACE="${IFACE:0:15}"
WORK="$(mktemp -d)"
WG_PID=""
cleanup() {
  [[ -n "$WG_PID" ]] && kill "$WG_PID" 2>/dev/null && wait "$WG_PID" 2>/dev/null
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

umask 077
wg genkey >"$WORK/theirs.key"
wg pubkey <"$WORK/theirs.key" >"$WORK/theirs.pub"
wg genkey >"$WORK/ours.key"
wg pubkey <"$WORK/ours.key" >"$WORK/ours.pub"

ip netns add "$NS"
ip -n "$NS" link set lo up
LOG_LEVEL=debug ip netns exec "$NS" wireguard-go -f "$IFACE" >"$WORK/wg.log" 2>&1 &
WG_PID=$!
for _ in $(seq 300); do
  [[ -S "/var/run/wireguard/$IFACE.sock" ]] && break
  sleep 0.1
done
[[ -S "/var/run/wireguard/$IFACE.sock" ]] || {
  echo "wireguard-go never opened its control socket" >&2
  cat "$WORK/wg.log" >&2
  exit 1
}
ip netns exec "$NS" wg set "$IFACE" private-key "$WORK/theirs.key" \
  listen-port 51820 peer "$(cat "$WORK/ours.pub")" allowed-ips 198.19.1.2/32
ip -n "$NS" addr add 198.19.1.1/24 dev "$IFACE"
ip -n "$NS" link set "$IFACE" up

echo "--- snaptun initiates, wireguard-go responds"
ip netns exec "$NS" "$WG_PEER" initiator "$WORK/ours.key" \
  "$(cat "$WORK/theirs.pub")" 127.0.0.1:51820
ip netns exec "$NS" wg show "$IFACE" latest-handshakes | grep -qv $'\t0$'

echo "--- wireguard-go initiates, snaptun responds"
# A new peer state, pointed at our gateway; the keepalive starts a handshake.
ip netns exec "$NS" wg set "$IFACE" peer "$(cat "$WORK/ours.pub")" remove
ip netns exec "$NS" wg set "$IFACE" peer "$(cat "$WORK/ours.pub")" \
  allowed-ips 198.19.1.2/32 endpoint 127.0.0.1:51821 persistent-keepalive 1
ip netns exec "$NS" "$WG_PEER" responder "$WORK/ours.key" \
  "$(cat "$WORK/theirs.pub")" 127.0.0.1:51821
grep -q "Received handshake response" "$WORK/wg.log"
echo "PASS"
