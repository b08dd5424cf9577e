#!/usr/bin/env bash
# The API proto's hygiene, run by the test command: `buf lint` (AIP-style
# rules, proto/buf.yaml), and `buf breaking` against the proto of the
# previous commit (or of REV, when given), so a change that would break
# generated clients fails the test command. buf comes from npm
# (@bufbuild/buf, installed by scripts/deps.sh).
#   scripts/proto_check.sh [REV]
set -euo pipefail
cd "$(dirname "$0")/.."
BUF="$PWD/third_party/npm/node_modules/.bin/buf"
[[ -x "$BUF" ]] || { echo "buf is missing: run ./scripts/test.sh" >&2; exit 1; }
echo "buf lint"
(cd proto && "$BUF" lint)
rev="${1:-HEAD~1}"
if ! base="$(git rev-parse --verify --quiet "$rev^{commit}")"; then
  echo "no commit $rev (a shallow clone?): breaking check skipped"
  exit 0
fi
against="$(mktemp -d)"
trap 'rm -rf "$against"' EXIT
git archive "$base" proto | tar -x -C "$against"
# The same module settings on both sides (older commits had no buf.yaml).
cp proto/buf.yaml "$against/proto/buf.yaml"
echo "buf breaking against $(git rev-parse --short "$base")"
(cd proto && "$BUF" breaking --against "$against/proto")
echo "proto ok"
