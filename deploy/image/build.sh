#!/usr/bin/env bash
# Builds the snaptun container image without a Docker daemon: bazel builds
# snaptund and snaptunctl, this script gathers them and every shared library
# they load (ldd) into a root filesystem with a non-root user, and podman
# builds Containerfile FROM scratch on top of it. Besides the libraries:
# users, name resolution through files and DNS, and the CA bundle libcurl
# verifies an https:// control plane with.
#   deploy/image/build.sh [IMAGE]      (default localhost/snaptun:dev)
# With SNAPTUND and SNAPTUNCTL set to built binaries, bazel is not run.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
IMAGE="${1:-localhost/snaptun:dev}"
source "$ROOT/scripts/deps.sh"
snaptun_install_packages podman runc uidmap ca-certificates

cd "$ROOT"
if [[ -z "${SNAPTUND:-}" || -z "${SNAPTUNCTL:-}" ]]; then
  bazel build --noshow_progress //service/daemon:snaptund //cli:snaptunctl
  SNAPTUND=bazel-bin/service/daemon/snaptund
  SNAPTUNCTL=bazel-bin/cli/snaptunctl
fi
CONTEXT="$(mktemp -d)"
trap 'rm -rf "$CONTEXT"' EXIT
ROOTFS="$CONTEXT/rootfs"
mkdir -p "$ROOTFS/usr/local/bin" "$ROOTFS/etc/snaptun" "$ROOTFS/tmp" \
  "$ROOTFS/var/lib/snaptun"
install -m 0755 "$SNAPTUND" "$SNAPTUNCTL" "$ROOTFS/usr/local/bin/"
# Every library either binary loads, at its own path, plus the loader.
for binary in "$ROOTFS"/usr/local/bin/*; do
  ldd "$binary" | awk '$3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'
done | sort -u | while read -r lib; do
  mkdir -p "$ROOTFS$(dirname "$lib")"
  cp -L "$lib" "$ROOTFS$lib"
done
# Users, and name resolution for a binary linked against glibc: /etc/hosts,
# then DNS (libcurl resolves the control plane with getaddrinfo). Since
# glibc 2.34 the files and dns NSS modules are built into libc.so.6, which
# ldd found above; the libnss_*.so.2 files are stubs for older programs and
# are copied anyway, because ldd cannot see what NSS would dlopen.
printf 'root:x:0:0:root:/root:/sbin/nologin\nsnaptun:x:65532:65532:snaptun:/var/lib/snaptun:/sbin/nologin\n' \
  >"$ROOTFS/etc/passwd"
printf 'root:x:0:\nsnaptun:x:65532:\n' >"$ROOTFS/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$ROOTFS/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$ROOTFS/etc/hosts"
libdir="$(dirname "$(ldd "$SNAPTUND" | awk '$1 ~ /^libc\.so/ {print $3}')")"
for module in libnss_files.so.2 libnss_dns.so.2; do
  if [[ -e "$libdir/$module" ]]; then
    cp -L "$libdir/$module" "$ROOTFS$libdir/"
  fi
done
# Podman and the kubelet bind-mount their own resolv.conf, hosts and
# hostname over these; empty files give the mounts a place on a read-only
# root filesystem.
: >"$ROOTFS/etc/resolv.conf"
: >"$ROOTFS/etc/hostname"
# The CA bundle at the path Debian's libcurl and OpenSSL look in by default
# (and snaptund's --control_plane_ca_file default).
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
[[ -s "$CA_BUNDLE" ]] || { echo "no CA bundle at $CA_BUNDLE" >&2; exit 1; }
mkdir -p "$ROOTFS/etc/ssl/certs"
install -m 0644 "$CA_BUNDLE" "$ROOTFS$CA_BUNDLE"
printf -- '--grpc_listen=0.0.0.0:50051\n--metrics_listen=0.0.0.0:9464\n--private_key_file=/var/lib/snaptun/snaptund.key\n' \
  >"$ROOTFS/etc/snaptun/snaptund.flags"
chmod 1777 "$ROOTFS/tmp"
cp deploy/image/Containerfile "$CONTEXT/"

# This VM's podman settings (containers.conf), unless the caller has its own.
CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/deploy/image/containers.conf}" \
  podman build --quiet -t "$IMAGE" -f "$CONTEXT/Containerfile" "$CONTEXT" \
  >/dev/null
echo "built $IMAGE ($(du -sh "$ROOTFS" | cut -f1) root filesystem)"
