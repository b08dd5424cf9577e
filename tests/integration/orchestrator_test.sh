#!/usr/bin/env bash
# Runs orchestrator_test.py with Debian's Python (python3-grpcio).
#   orchestrator_test.sh SCRIPT SNAPTUND SNAPTUN_PROTO STATUS_PROTO
set -euo pipefail
script="$(realpath "$1")"
shift
args=()
for a in "$@"; do args+=("$(realpath "$a")"); done
exec /usr/bin/python3 "$script" "${args[@]}"
