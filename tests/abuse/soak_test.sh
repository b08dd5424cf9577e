#!/usr/bin/env bash
# The 60-second soak: bench/soak.sh with the built daemon and driver; fails
# on growth after warm-up.
#   soak_test.sh SOAK_SH SNAPTUND SOAK_DRIVER
set -euo pipefail
SOAK="$(realpath "$1")"
export SNAPTUND="$(realpath "$2")"
export SOAK_DRIVER="$(realpath "$3")"
OUT="${TEST_UNDECLARED_OUTPUTS_DIR:-$(mktemp -d)}/soak"
SOAK_PLOT=0 "$SOAK" 60 "$OUT"
