#!/usr/bin/env bash
# Real-editor tests: set up (scripts/setup-editors.sh), build the .vsix, run the extension's unit
# tests, then freshlens in headless Neovim and in VS Code (code-server + headless Chromium).
# Exits non-zero if any stage fails and says which; screenshots and logs go to test-artifacts/.
# Called by scripts/test.sh after pytest; runs on its own too.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ART="$ROOT/test-artifacts"
mkdir -p "$ART"
failures=()
timings=()
stage() {  # stage NAME COMMAND...: run, time, record failure
  local name=$1; shift
  echo "== $name"
  local t0=$SECONDS
  "$@"
  local rc=$?
  timings+=("$(printf '%-22s %4ss  %s' "$name" $((SECONDS - t0)) "$([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc)")")")
  [ $rc -eq 0 ] || failures+=("$name")
  return $rc
}
summary() {
  echo "== real-editor tests: timings"
  printf '  %s\n' "${timings[@]}"
  if [ ${#failures[@]} -gt 0 ]; then
    echo "real-editor tests FAILED: ${failures[*]} (screenshots and logs: $ART)"
    exit 1
  fi
  echo "real-editor tests passed (screenshots: $ART)"
}

stage setup bash scripts/setup-editors.sh || summary
[ -x .venv/bin/python ] && .venv/bin/python -c "import freshlens" 2>/dev/null \
  || { echo ".venv with freshlens is missing: run scripts/setup.sh first"; failures+=(venv); summary; }

build_vsix() {
  (cd client-vscode && npm run --silent package >"$ART/vsix-build.log" 2>&1) \
    || { cat "$ART/vsix-build.log"; return 1; }
  VSIX=$(ls -t "$ROOT"/client-vscode/freshlens-*.vsix | head -1)
  echo "built $VSIX"
}
# the graph libraries vendored in the Python package are exactly the pinned npm packages' files
stage report-assets bash scripts/build-report-assets.sh --check
stage vsix build_vsix
stage extension-unit-tests bash -c 'cd client-vscode && npm test --silent 2>&1 | tail -n 12; exit ${PIPESTATUS[0]}'

# A private copy of the example projects, with state from a real dbt run, so the tests neither
# write into examples/ nor depend on what other runs left there.
prepare_workspace() {
  local runs="examples/jaffle_fresh/.freshlens/runs"
  if ! ls "$runs"/*/run_results.json >/dev/null 2>&1 || [ ! -f examples/jaffle_fresh/.freshlens/current/sources.json ]; then
    echo "no dbt run artifacts yet: running scripts/dbt-demo-run.sh (about 25 s)"
    bash scripts/dbt-demo-run.sh >"$ART/dbt-demo-run.log" 2>&1 || { tail -30 "$ART/dbt-demo-run.log"; return 1; }
  fi
  WS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/freshlens-editors-XXXXXX")
  mkdir -p "$WS_TMP/examples"
  cp -r examples/jaffle_fresh examples/mistakes "$WS_TMP/examples/"
  rm -rf "$WS_TMP"/examples/*/{target,logs,dbt_packages} "$WS_TMP"/examples/*/*.duckdb*
  # An SQL file outside any dbt project: the VS Code test checks the extension never sends it.
  mkdir -p "$WS_TMP/examples/scratch"
  printf 'select * from somewhere_else\n' > "$WS_TMP/examples/scratch/not_dbt.sql"
  local run; run=$(ls "$WS_TMP/examples/jaffle_fresh/.freshlens/runs" | sort -n | tail -1)
  export FL_WORKSPACE="$WS_TMP/examples" FL_STATE=".freshlens/runs/$run"
  # What-if times relative to that run, so the lens texts do not depend on when the test runs:
  # 5 minutes after the run (tolerances not yet met), then two days later.
  read -r FL_AT FL_AT2 < <(.venv/bin/python - "$FL_WORKSPACE/jaffle_fresh/$FL_STATE/run_results.json" <<'PY'
import datetime as dt, json, sys
t = dt.datetime.fromisoformat(json.load(open(sys.argv[1]))["metadata"]["generated_at"].replace("Z", "+00:00"))
f = lambda d: (t + d).strftime("%Y-%m-%dT%H:%M:%SZ")
print(f(dt.timedelta(minutes=5)), f(dt.timedelta(days=2)))
PY
)
  export FL_AT FL_AT2
  echo "workspace $FL_WORKSPACE, state $FL_STATE, what-if $FL_AT then $FL_AT2"
}
stage workspace prepare_workspace || summary

neovim_test() {
  local tmp; tmp=$(mktemp -d "${TMPDIR:-/tmp}/freshlens-nvim-XXXXXX")
  mkdir -p "$ART/neovim"
  XDG_DATA_HOME=$tmp/data XDG_CACHE_HOME=$tmp/cache XDG_CONFIG_HOME=$tmp/config XDG_STATE_HOME=$tmp/state \
    FL_REPO=$ROOT FL_OUT="$ART/neovim/result.json" \
    timeout 300 nvim --headless --clean -c "luafile tests/clients/neovim/lsp_e2e.lua" </dev/null
  local rc=$?
  rm -rf "$tmp"
  [ $rc -eq 0 ] || echo "neovim: see $ART/neovim/result.json for what the server returned"
  return $rc
}
stage neovim neovim_test

vscode_test() {
  # the CLI's HTML report of the same workspace, checked in the same Chromium (no network, table, graph)
  mkdir -p "$ART/vscode"
  .venv/bin/freshlens plan "$FL_WORKSPACE/jaffle_fresh" --state "$FL_STATE" --at "$FL_AT2" --format html \
    --output "$ART/vscode/plan.html" || return 1
  FL_PLAN_HTML="$ART/vscode/plan.html" FL_REPO=$ROOT FL_VSIX=$VSIX FL_E2E="$ROOT/client-vscode/.e2e" FL_ARTIFACTS="$ART/vscode" \
    timeout 600 node tests/clients/vscode/code_server_e2e.js
}
if [ -n "${VSIX:-}" ]; then stage vscode vscode_test; else failures+=("vscode (no .vsix)"); fi
if [ "${FRESHLENS_UPDATE_SCREENSHOTS:-0}" = "1" ] && [[ " ${failures[*]} " != *" vscode "* ]]; then
  # Refresh the screenshots in the docs from this run (docs/editors.md, client-vscode/README.md).
  mkdir -p docs/screenshots
  cp "$ART/vscode/02-codelens.png" docs/screenshots/vscode-lens-problems.png
  cp "$ART/vscode/03-hover.png" docs/screenshots/vscode-hover.png
  cp "$ART/vscode/07-plan.png" docs/screenshots/vscode-plan.png
  cp "$ART/vscode/07c-plan-live-edit.png" docs/screenshots/vscode-plan-live.png
  cp "$ART/vscode/11-plan-html.png" docs/screenshots/plan-html.png
  cp "$ART/vscode/08-explain.png" docs/screenshots/vscode-explain.png
  echo "updated docs/screenshots/"
fi
rm -rf "${WS_TMP:-/nonexistent}"
summary
