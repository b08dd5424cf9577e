#!/usr/bin/env bash
# Renders every kustomize overlay with `kubectl kustomize` and checks it
# offline: validate.mjs (each object against the Kubernetes schemas from npm
# kubernetes-models, plus the deployment's promised properties) and
# meaning.mjs (what the objects mean for sample pods: which pods each
# NetworkPolicy admits, which pods each ServiceMonitor scrapes, which pods
# each selector picks, for each overlay and for both in one namespace; the
# Secret name against docs/OPERATIONS.md). Then it breaks the manifests the
# ways issue 15 found them broken, on a copy of the sources or of the
# rendered YAML, and requires the checks to fail on each, for the right
# reason.
#   manifests_test.sh DEPLOY_DIR VALIDATE_MJS MEANING_MJS OPERATIONS_MD
set -euo pipefail
DEPLOY="$(realpath "$1")"
VALIDATE="$(realpath "$2")"
MEANING="$(realpath "$3")"
DOCS="$(realpath "$4")"
command -v kubectl >/dev/null || {
  echo "kubectl is needed (it ships with this machine image)" >&2
  exit 1
}
source "$(dirname "${BASH_SOURCE[0]}")/node_deps.sh"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# Each run checks with its own copy of the scripts.
cp "$VALIDATE" "$WORK/validate.mjs"
cp "$MEANING" "$WORK/meaning.mjs"
deploy_node_modules "$WORK"

# render SRC OUT: kubectl kustomize of the base and both overlays of the
# deploy tree SRC into OUT/{base,client,gateway}.yaml. Runfiles are
# symlinks, which kustomize does not follow: it renders a copy.
render() {
  local src="$1" out="$2" role dir
  mkdir -p "$out"
  rm -rf "$out/src"
  cp -rL "$src" "$out/src"
  for role in base client gateway; do
    dir="$out/src/k8s/overlays/$role"
    [[ $role == base ]] && dir="$out/src/k8s/base"
    kubectl kustomize "$dir" >"$out/$role.yaml" 2>"$out/$role.err" || {
      cat "$out/$role.err" >&2
      return 1
    }
  done
}

# check DIR: every check on DIR/{base,client,gateway}.yaml; the output in
# DIR/check.log.
check() {
  local dir="$1" role status=0
  {
    for role in base client gateway; do
      node "$WORK/validate.mjs" "$role" "$dir/$role.yaml" || status=1
    done
    node "$WORK/meaning.mjs" "$DOCS" "$dir/client.yaml" "$dir/gateway.yaml" ||
      status=1
  } >"$dir/check.log" 2>&1
  return $status
}

render "$DEPLOY" "$WORK/good"
if ! check "$WORK/good"; then
  cat "$WORK/good/check.log" >&2
  exit 1
fi
grep -v '^schema ok' "$WORK/good/check.log"

# caught NAME EXPECTED_MESSAGE: the checks must fail on $WORK/NAME, saying
# EXPECTED_MESSAGE (a grep -E pattern).
caught() {
  local name="$1" message="$2"
  if check "$WORK/$name"; then
    echo "the checks accepted the broken manifests: $name" >&2
    exit 1
  fi
  if ! grep -qE -- "$message" "$WORK/$name/check.log"; then
    echo "$name failed, but not with /$message/:" >&2
    cat "$WORK/$name/check.log" >&2
    exit 1
  fi
  echo "caught $name: $(grep -m1 -E -- "$message" "$WORK/$name/check.log")"
}

# broken_rendering NAME SED_SCRIPT ROLE: the good rendering with ROLE's
# YAML edited by sed.
broken_rendering() {
  local name="$1" script="$2" role="$3"
  mkdir -p "$WORK/$name"
  cp "$WORK/good/"{base,client,gateway}.yaml "$WORK/$name/"
  sed -i -e "$script" "$WORK/$name/$role.yaml"
  cmp -s "$WORK/good/$role.yaml" "$WORK/$name/$role.yaml" && {
    echo "$name: the sed script changed nothing" >&2
    exit 1
  }
  return 0
}

# broken_sources NAME FILE SED_SCRIPT [FILE SED_SCRIPT]...: a copy of the
# sources with each FILE (relative to deploy/k8s) edited, rendered.
broken_sources() {
  local name="$1"
  shift
  rm -rf "$WORK/$name.src"
  cp -rL "$DEPLOY" "$WORK/$name.src"
  while (($# > 0)); do
    cp "$WORK/$name.src/k8s/$1" "$WORK/$name.orig"
    sed -i -e "$2" "$WORK/$name.src/k8s/$1"
    cmp -s "$WORK/$name.orig" "$WORK/$name.src/k8s/$1" && {
      echo "$name: the sed script changed nothing in $1" >&2
      exit 1
    }
    shift 2
  done
  render "$WORK/$name.src" "$WORK/$name"
}

echo "--- each regression of issue 15, reintroduced, is caught"
# 1. The pods mount a Secret the docs never create.
broken_rendering secret-name \
  's/secretName: client-snaptund-secrets/secretName: snaptund-secrets/' client
caught secret-name 'client pods mount Secret "snaptund-secrets" but docs'
# 2. commonLabels: the role label leaks into the NetworkPolicy's `from`.
# shellcheck disable=SC2016  # `$a` is sed's, not the shell's.
broken_sources common-labels \
  overlays/client/kustomization.yaml '$a commonLabels:\n  snaptun.io/role: client' \
  overlays/gateway/kustomization.yaml '$a commonLabels:\n  snaptun.io/role: gateway'
caught common-labels 'NetworkPolicy refuses orchestrator → (client|gateway) pod TCP/50051'
# 3. A ServiceMonitor that selects both roles' Services.
broken_sources unscoped-monitor \
  overlays/client/kustomization.yaml '/kind: ServiceMonitor/,+1d' \
  overlays/gateway/kustomization.yaml '/kind: ServiceMonitor/,+1d'
caught unscoped-monitor 'is scraped 2 times'
# 4. No headless Service to address replicas.
broken_sources no-headless base/kustomization.yaml '/headless-service.yaml/d'
caught no-headless 'one headless Service \(clusterIP: None\) for (client|gateway)'
# 5. No topology spread.
broken_sources no-spread base/deployment.yaml \
  '/^      topologySpreadConstraints:/,/^      securityContext:/{/^      securityContext:/!d}'
caught no-spread 'spreads over (topology.kubernetes.io/zone|kubernetes.io/hostname)'
# 6. Services without the role: each overlay's Services pick both roles.
broken_sources role-less-services \
  overlays/client/kustomization.yaml '/- kind: Service$/,+2d' \
  overlays/gateway/kustomization.yaml '/- kind: Service$/,+2d'
caught role-less-services 'Service (client|gateway)-snaptund selects .*not exactly'
# 7. The gateway's UDP Service loses client source addresses.
broken_rendering snat \
  's/externalTrafficPolicy: Local/externalTrafficPolicy: Cluster/' gateway
caught snat 'externalTrafficPolicy: Local'
# 8. A lame duck longer than the grace period leaves room for.
broken_rendering long-lame-duck 's|--lame_duck=10s|--lame_duck=20s|' gateway
caught long-lame-duck 'gateway terminationGracePeriodSeconds 30 < --lame_duck 20'
# 9. No lame duck: pods drain while endpoints still send them work.
broken_rendering no-lame-duck '/--lame_duck=10s/d' client
caught no-lame-duck 'client sets --lame_duck'
# 10. Not a valid object at all.
broken_rendering schema 's/replicas: 2/replicas: "two"/' gateway
caught schema 'Deployment/gateway-snaptund'
echo PASS
