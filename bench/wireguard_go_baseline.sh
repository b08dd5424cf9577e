#!/usr/bin/env bash
# Goodput of two Debian wireguard-go instances on this machine, the baseline
# for docs/PERFORMANCE.md: two network namespaces joined by a veth, one
# wireguard-go in each, iperf3 through the tunnel (TCP, then UDP with
# 1368-byte datagrams so each fits the 1420-byte tunnel MTU). Needs root;
# installs wireguard-go, wireguard-tools and iperf3 when missing; cleans up.
#   bench/wireguard_go_baseline.sh [SECONDS] [CSV]
# With CSV, also UDP at the tunnel payload sizes dataplane_bench uses (64,
# 256, 512, 1420 bytes of IP packet: UDP datagrams 28 bytes shorter), one row
# each (series,x,packets_per_second,gbps; packets received) for
# bench/plot.sh.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
SECONDS_TO_RUN="${1:-5}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/scripts/deps.sh"
snaptun_install_packages wireguard-go wireguard-tools iperf3 iproute2

A="snaptun-bench-a-$$"
B="snaptun-bench-b-$$"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

umask 077
for n in a b; do
  wg genkey >"$WORK/$n.key"
  wg pubkey <"$WORK/$n.key" >"$WORK/$n.pub"
done
ip netns add "$A"
ip netns add "$B"
ip link add vsa netns "$A" type veth peer name vsb netns "$B"
ip -n "$A" addr add 198.18.0.1/30 dev vsa
ip -n "$B" addr add 198.18.0.2/30 dev vsb
for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
ip -n "$A" link set vsa up
ip -n "$B" link set vsb up
IFA="wgba$$"; IFA="${IFA:0:15}"
IFB="wgbb$$"; IFB="${IFB:0:15}"
ip netns exec "$A" wireguard-go -f "$IFA" >/dev/null 2>&1 &
PIDS+=($!)
ip netns exec "$B" wireguard-go -f "$IFB" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do
  [[ -S /var/run/wireguard/$IFA.sock && -S /var/run/wireguard/$IFB.sock ]] && break
  sleep 0.1
done
ip netns exec "$A" wg set "$IFA" private-key "$WORK/a.key" listen-port 51820 \
  peer "$(cat "$WORK/b.pub")" allowed-ips 198.19.0.2/32 endpoint 198.18.0.2:51821
ip netns exec "$B" wg set "$IFB" private-key "$WORK/b.key" listen-port 51821 \
  peer "$(cat "$WORK/a.pub")" allowed-ips 198.19.0.1/32 endpoint 198.18.0.1:51820
ip -n "$A" addr add 198.19.0.1/24 dev "$IFA"
ip -n "$B" addr add 198.19.0.2/24 dev "$IFB"
ip -n "$A" link set "$IFA" up
ip -n "$B" link set "$IFB" up
for _ in $(seq 20); do
  ip netns exec "$A" ping -c1 -W1 198.19.0.2 >/dev/null 2>&1 && break
done

ip netns exec "$B" iperf3 -s -D -B 198.19.0.2 --logfile "$WORK/server.log"
sleep 0.5
tcp=$(ip netns exec "$A" iperf3 -c 198.19.0.2 -t "$SECONDS_TO_RUN" -J |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')
udp=$(ip netns exec "$A" iperf3 -c 198.19.0.2 -u -b 10G -l 1368 \
  -t "$SECONDS_TO_RUN" -J |
  /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin)["end"]["sum"]; print(d["bits_per_second"]*(1-d["lost_percent"]/100))')
if [[ -n "${2:-}" ]]; then
  echo "series,x,packets_per_second,gbps" >"$2"
  for size in 64 256 512 1420; do
    ip netns exec "$A" iperf3 -c 198.19.0.2 -u -b 10G -l $((size - 28)) \
      -t "$SECONDS_TO_RUN" -J | /usr/bin/python3 -c '
import json, sys
size = int(sys.argv[1])
d = json.load(sys.stdin)["end"]["sum"]
pps = d["bits_per_second"] / 8 / (size - 28) * (1 - d["lost_percent"] / 100)
print(f"wireguard_go,{size},{pps:.0f},{pps * size * 8 / 1e9:.3f}")' "$size" >>"$2"
  done
fi
pkill -f "iperf3 -s -D -B 198.19.0.2" || true
/usr/bin/python3 -c "print(f'wireguard-go TCP goodput: {$tcp/1e9:.2f} Gbit/s'); print(f'wireguard-go UDP goodput, 1368-byte datagrams: {$udp/1e9:.2f} Gbit/s')"
