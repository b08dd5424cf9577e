#!/usr/bin/env bash
# Tunnels under 20% random loss: a network namespace whose nftables drop a
# fifth of the gateway's UDP datagrams in each direction, and lossy_clients
# inside it. Needs root; cleans up after itself.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
CLIENTS="$1"
PORT=51999
for tool in ip nft; do
  command -v "$tool" >/dev/null || {
    echo "missing $tool: run ./scripts/test.sh, which installs it" >&2
    exit 1
  }
done
NS="snaptun-loss-$$"
cleanup() { ip netns del "$NS" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
ip netns exec "$NS" nft add table inet snaptun_loss
ip netns exec "$NS" nft add chain inet snaptun_loss out \
  '{ type filter hook output priority 0; }'
ip netns exec "$NS" nft add rule inet snaptun_loss out \
  udp dport "$PORT" numgen random mod 100 '<' 20 counter drop
ip netns exec "$NS" nft add rule inet snaptun_loss out \
  udp sport "$PORT" numgen random mod 100 '<' 20 counter drop
ip netns exec "$NS" "$CLIENTS" "$PORT"
# The loss really happened.
ip netns exec "$NS" nft list table inet snaptun_loss | grep -E 'packets [1-9]'
echo PASS
