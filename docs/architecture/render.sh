#!/usr/bin/env bash
# Renders every Graphviz source (*.dot) in this directory to an SVG and a PNG
# next to it. Needs Graphviz's `dot` (Debian: apt-get install graphviz).
# Usage: docs/architecture/render.sh   (from any directory)
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if ! command -v dot >/dev/null 2>&1; then
  echo "render.sh: Graphviz 'dot' not found (apt-get install graphviz)" >&2
  exit 1
fi

shopt -s nullglob
sources=("${dir}"/*.dot)
if [[ ${#sources[@]} -eq 0 ]]; then
  echo "render.sh: no .dot files in ${dir}" >&2
  exit 1
fi
for source in "${sources[@]}"; do
  base="${source%.dot}"
  dot -Tsvg "${source}" -o "${base}.svg"
  dot -Tpng "${source}" -o "${base}.png"
  echo "rendered ${base#"${dir}"/}.svg and .png"
done
