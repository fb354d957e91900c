#!/usr/bin/env bash
# Vendor the plan report's graph libraries into the Python package, reproducibly.
#
# The versions are pinned in scripts/report-assets/package.json and package-lock.json; this runs
# `npm ci` there (the npm registry only) and copies the built, minified files the libraries publish
# into server/freshlens/report/assets/vendor/, with their licenses and a LICENSES.md that names each
# file, package, version and license. `freshlens plan --format html` inlines these files and the VS
# Code extension ships the same files for its webview, so neither needs a network when viewed.
#
# Run it after changing a version; commit what it writes. `--check` only verifies that the vendored
# files are exactly what the pinned packages publish (exit 1 if not).
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=scripts/report-assets
DEST=server/freshlens/report/assets/vendor
(cd "$SRC" && npm ci --no-audit --no-fund --loglevel=error)
NM="$SRC/node_modules"
version() { node -p "require('./$NM/$1/package.json').version"; }
license() { node -p "require('./$NM/$1/package.json').license"; }

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
cp "$NM/cytoscape/dist/cytoscape.min.js" "$OUT/cytoscape.min.js"
cp "$NM/cytoscape-dagre/dist/cytoscape-dagre.min.js" "$OUT/cytoscape-dagre.min.js"
for pkg in cytoscape cytoscape-dagre @dagrejs/dagre @dagrejs/graphlib; do
  cp "$NM/$pkg/LICENSE" "$OUT/LICENSE-$(basename "$pkg")"
done
{
  echo "# Third-party files in this folder"
  echo
  echo "Written by \`scripts/build-report-assets.sh\` from the versions pinned in"
  echo "\`scripts/report-assets/package-lock.json\`; do not edit by hand."
  echo
  echo "| file | npm package | version | license | license text |"
  echo "| --- | --- | --- | --- | --- |"
  echo "| cytoscape.min.js | cytoscape | $(version cytoscape) | $(license cytoscape) | LICENSE-cytoscape |"
  echo "| cytoscape-dagre.min.js | cytoscape-dagre | $(version cytoscape-dagre) | $(license cytoscape-dagre) | LICENSE-cytoscape-dagre |"
  echo "| (bundled in cytoscape-dagre.min.js) | @dagrejs/dagre | $(version @dagrejs/dagre) | $(license @dagrejs/dagre) | LICENSE-dagre |"
  echo "| (bundled in cytoscape-dagre.min.js) | @dagrejs/graphlib | $(version @dagrejs/graphlib) | $(license @dagrejs/graphlib) | LICENSE-graphlib |"
} > "$OUT/LICENSES.md"

if [ "${1:-}" = "--check" ]; then
  if diff -r "$OUT" "$DEST" >/dev/null; then
    echo "report assets: $DEST matches the pinned packages"
  else
    diff -rq "$OUT" "$DEST" || true
    echo "report assets: $DEST differs from the pinned packages: run scripts/build-report-assets.sh" >&2
    exit 1
  fi
else
  rm -rf "$DEST"
  mkdir -p "$DEST"
  cp "$OUT"/* "$DEST/"
  echo "report assets: wrote $(ls "$DEST" | wc -l) files to $DEST"
fi
