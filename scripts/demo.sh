#!/usr/bin/env bash
# The README's first command: set everything up on a fresh machine, run the example dbt project for
# real (dbt-core + dbt-duckdb on an embedded DuckDB), ingest that run as state, load new rows into
# one source, and show what freshlens reports and predicts; then, when Debian's postgresql is
# installed (setup.sh installs it as root), the same project on a throwaway PostgreSQL server.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
FL="$ROOT/.venv/bin/freshlens"
EX="examples/jaffle_fresh"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Setting up (.venv with freshlens, .venv-dbt with dbt-core + dbt-duckdb)"
bash scripts/setup.sh

say "1. Validation: the deliberate mistakes in examples/mistakes (see its README)"
"$FL" check examples/mistakes || true

say "2. The clean example project has nothing to report"
"$FL" check "$EX"

say "3. A production-like run with real dbt (build, source freshness, docs), then new orders arrive"
rm -rf "$EX/.freshlens"
bash scripts/dbt-demo-run.sh >"$EX/.freshlens-demo.log" 2>&1 || { tail -40 "$EX/.freshlens-demo.log"; exit 1; }
echo "dbt output: $EX/.freshlens-demo.log"

say "4. Ingest the run's artifacts into the state store ($EX/.freshlens/state.db)"
"$FL" state ingest "$EX/.freshlens/runs/1" --project "$EX"

say "5. Predicted next run under state-aware orchestration (build_after windows)"
"$FL" plan "$EX" --regime sao

say "6. The same under dbt State: data that arrived within lag_tolerance of the last build is reused"
"$FL" plan "$EX" --regime dbt-state

say "7. Why? The full explanation for one model"
"$FL" explain fct_daily_orders "$EX" --regime sao

if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  say "8. The same project on PostgreSQL (dbt-postgres on a throwaway server), planned with live read-only freshness"
  bash scripts/demo-postgres.sh
else
  printf '\n(PostgreSQL is not installed: skipping the example on PostgreSQL, scripts/demo-postgres.sh)\n'
fi

printf '\nNext: open %s in VS Code / Cursor with the extension (client-vscode/), or any LSP client running `%s serve`.\n' "$EX" "$FL"
