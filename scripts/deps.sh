#!/usr/bin/env bash
# Installs the Debian packages the build and tests need, quietly and only when
# something is missing. Sourced by scripts/test.sh and scripts/run.sh.
set -euo pipefail

SNAPTUN_PACKAGES=(
  bazel-bootstrap
  ca-certificates
  catatonit
  clang-format
  curl
  g++
  iproute2
  iptables
  libabsl-dev
  libbenchmark-dev
  libcivetweb-dev
  libcurl4-openssl-dev
  libgmock-dev
  libgrpc++-dev
  libgtest-dev
  libprotobuf-dev
  libssl-dev
  nftables
  openssl
  pkg-config
  podman
  prometheus
  prometheus-cpp-dev
  protobuf-compiler
  protobuf-compiler-grpc
  python3-grpcio
  python3-protobuf
  runc
  uidmap
  wireguard-go
  wireguard-tools
)

snaptun_install_packages() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  echo "installing: ${missing[*]}"
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
}

# npm packages the build and the tests use (third_party/npm/package.json):
# buf for `buf lint`/`buf breaking`, google-proto-files for google/rpc.
# Installed with `npm ci` from the checked-in lock file, again only when the
# lock file changed since the last install.
snaptun_install_npm() {
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/third_party/npm"
  local stamp="$dir/node_modules/.snaptun-lock"
  if [[ -f "$stamp" ]] && cmp -s "$stamp" "$dir/package-lock.json"; then
    return 0
  fi
  if ! command -v npm >/dev/null; then
    snaptun_install_packages nodejs npm
  fi
  echo "installing npm packages: buf, google-proto-files"
  (cd "$dir" && npm ci --no-audit --no-fund --silent >/dev/null)
  cp "$dir/package-lock.json" "$stamp"
}
