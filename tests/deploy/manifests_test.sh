#!/usr/bin/env bash
# Renders every kustomize overlay with `kubectl kustomize` and validates the
# objects offline (validate.mjs: Kubernetes schemas from npm
# kubernetes-models, plus the deployment's promised properties). Also
# checks that a broken manifest is caught, so the check can fail.
#   manifests_test.sh DEPLOY_DIR VALIDATE_MJS
set -euo pipefail
DEPLOY="$(realpath "$1")"
VALIDATE="$(realpath "$2")"
command -v kubectl >/dev/null || {
  echo "kubectl is needed (it ships with this machine image)" >&2
  exit 1
}
CACHE="/var/tmp/snaptun-k8s-validate"
export HOME="${HOME:-$CACHE}"
mkdir -p "$CACHE"
# Parallel runs (--runs_per_test) share the cache: one installs, the others
# wait for it under the lock instead of reading a half-installed tree.
(
  flock 9
  if [[ ! -f "$CACHE/.installed" ]]; then
    (cd "$CACHE" && npm init -y >/dev/null &&
      npm install --no-audit --no-fund --silent kubernetes-models@5 yaml@2 \
        >/dev/null 2>&1)
    touch "$CACHE/.installed"
  fi
) 9>"$CACHE/.lock"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# Each run validates with its own copy of the script.
cp "$VALIDATE" "$WORK/validate.mjs"
ln -s "$CACHE/node_modules" "$WORK/node_modules"
# Runfiles are symlinks, which kustomize does not follow: work on a copy.
cp -rL "$DEPLOY" "$WORK/deploy"
DEPLOY="$WORK/deploy"
for role in base client gateway; do
  dir="$DEPLOY/k8s/overlays/$role"
  [[ $role == base ]] && dir="$DEPLOY/k8s/base"
  kubectl kustomize "$dir" >"$WORK/$role.yaml" 2>"$WORK/$role.err" || {
    cat "$WORK/$role.err" >&2; exit 1; }
  node "$WORK/validate.mjs" "$role" "$WORK/$role.yaml"
done
# The validator must catch a broken object and a broken promise.
sed 's/replicas: 2/replicas: "two"/' "$WORK/gateway.yaml" >"$WORK/bad1.yaml"
sed 's/externalTrafficPolicy: Local/externalTrafficPolicy: Cluster/' \
  "$WORK/gateway.yaml" >"$WORK/bad2.yaml"
for bad in bad1 bad2; do
  if node "$WORK/validate.mjs" gateway "$WORK/$bad.yaml" >/dev/null 2>&1; then
    echo "the validator accepted $bad" >&2
    exit 1
  fi
done
echo PASS
