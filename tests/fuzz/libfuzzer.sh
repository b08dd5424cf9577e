#!/usr/bin/env bash
# Builds fuzz targets for clang's libFuzzer (coverage-guided, with ASan and
# UBSan) through Bazel, in an output base of its own so the gcc build is
# left alone, and runs each with the given libFuzzer flags.
#   tests/fuzz/libfuzzer.sh [-runs=1000000] [TARGET ...]
# Without targets, runs all of them. Corpora persist between runs under the
# output base. Not part of the test command (the standalone drivers are).
set -euo pipefail
cd "$(dirname "$0")/../.."
flags=()
targets=()
for arg in "$@"; do
  if [[ $arg == -* ]]; then flags+=("$arg"); else targets+=("$arg"); fi
done
if ((${#targets[@]} == 0)); then
  targets=(connect_error_fuzzer ip_socket_addr_fuzzer message_fuzzer
    open_request_fuzzer receive_control_fuzzer scion_packet_fuzzer
    table_fuzzer)
fi
base="${SNAPTUN_FUZZ_OUTPUT_BASE:-$HOME/.cache/snaptun-libfuzzer}"
bazel_fuzz() { bazel --output_base="$base" "$@"; }
labels=()
for t in "${targets[@]}"; do labels+=("//tests/fuzz:${t}_libfuzzer"); done
bazel_fuzz build --config=libfuzzer --symlink_prefix=/ --noshow_progress \
  "${labels[@]}"
bin="$(bazel_fuzz info --config=libfuzzer bazel-bin 2>/dev/null)"
for t in "${targets[@]}"; do
  corpus="$base/corpus/$t"
  mkdir -p "$corpus"
  echo "== $t"
  "$bin/tests/fuzz/${t}_libfuzzer" "$corpus" "${flags[@]}" 2>&1 |
    grep -E '^(#[0-9]+ *DONE|Done [0-9]+ runs|==[0-9]+==ERROR|SUMMARY)' || true
  [[ ${PIPESTATUS[0]} -eq 0 ]] || { echo "$t FAILED" >&2; exit 1; }
done
