#!/usr/bin/env bash
# Builds a fuzz target with clang's libFuzzer (coverage-guided) outside Bazel
# and runs it. Usage: tests/fuzz/libfuzzer.sh message_fuzzer [-max_total_time=60]
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${1:?usage: $0 message_fuzzer|table_fuzzer [libFuzzer flags]}
shift
out=${TMPDIR:-/tmp}/snaptun-fuzz
mkdir -p "$out/corpus-$target"
absl_libs=$(sed -n 's/^    "\(absl_[a-z0-9_]*\)",$/-l\1/p' third_party/system/BUILD.bazel | tr '\n' ' ')
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -I. \
  "tests/fuzz/$target.cc" tunnel/core/*.cc tunnel/crypto/*.cc \
  -lcrypto $absl_libs -o "$out/$target"
"$out/$target" "$out/corpus-$target" "$@"
