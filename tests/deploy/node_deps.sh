#!/usr/bin/env bash
# Sourced by the deployment tests: the npm packages their Node checkers use
# (kubernetes-models for the schemas, yaml to read rendered manifests),
# installed once into a cache that every run shares, and linked next to
# the checkers.
#   source node_deps.sh; deploy_node_modules DIR   (links DIR/node_modules)

deploy_node_modules() {
  local dir="$1"
  local cache="/var/tmp/snaptun-k8s-validate"
  export HOME="${HOME:-$cache}"
  mkdir -p "$cache"
  # Parallel runs (--runs_per_test) share the cache: one installs, the
  # others wait for it under the lock instead of reading a half-installed
  # tree.
  (
    flock 9
    if [[ ! -f "$cache/.installed" ]]; then
      (cd "$cache" && npm init -y >/dev/null &&
        npm install --no-audit --no-fund --silent kubernetes-models@5 yaml@2 \
          >/dev/null 2>&1)
      touch "$cache/.installed"
    fi
  ) 9>"$cache/.lock"
  ln -sfn "$cache/node_modules" "$dir/node_modules"
}
