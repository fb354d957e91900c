#!/usr/bin/env bash
# Produce real dbt artifacts for the example project examples/jaffle_fresh, as a production job
# would, plus a "current" sources.json taken after one source got new data:
#
#   1. fresh raw data (scripts/demo-data.py), `dbt build`, `dbt source freshness`, `dbt docs generate`
#   2. copy that run's artifacts to examples/jaffle_fresh/.freshlens/runs/<n>/
#      (manifest.json, run_results.json, sources.json, catalog.json; n = next free number)
#   3. insert new orders into raw.orders only, run `dbt source freshness` again and write
#      examples/jaffle_fresh/.freshlens/current/sources.json
#
# Then e.g.: freshlens state ingest examples/jaffle_fresh/.freshlens/runs/<n>
# Usage: scripts/dbt-demo-run.sh [--keep-data]   (--keep-data: do not reload raw data first)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PROJECT="$ROOT/examples/jaffle_fresh"
DBT="$ROOT/.venv-dbt/bin/dbt"
PY="$ROOT/.venv-dbt/bin/python"
export DBT_SEND_ANONYMOUS_USAGE_STATS=false

if [ ! -x "$DBT" ]; then
  echo "dbt-demo-run: $DBT is missing; run scripts/setup.sh (or scripts/setup-dbt.sh) first" >&2
  exit 1
fi

keep_data=0
[ "${1:-}" = "--keep-data" ] && keep_data=1

cd "$PROJECT"
if [ "$keep_data" -eq 0 ]; then
  rm -f jaffle_fresh.duckdb jaffle_fresh.duckdb.wal
  "$PY" "$ROOT/scripts/demo-data.py"
fi

# The job: build, then record source freshness (`dbt source freshness` writes sources.json and leaves
# the build's run_results.json alone).
"$DBT" build --profiles-dir .
"$DBT" source freshness --profiles-dir .

n=1
while [ -e ".freshlens/runs/$n" ]; do n=$((n + 1)); done
run_dir=".freshlens/runs/$n"
mkdir -p "$run_dir"
# Copy before `docs generate`, which overwrites run_results.json.
cp target/manifest.json target/run_results.json target/sources.json "$run_dir/"
"$DBT" docs generate --profiles-dir .
cp target/catalog.json "$run_dir/"

# One source gets new data after the run: only jaffle.orders (and the view over it) is fresher now.
sleep 1
"$PY" "$ROOT/scripts/demo-data.py" --add-orders 5
mkdir -p .freshlens/current
"$DBT" source freshness --profiles-dir . --output .freshlens/current/sources.json

echo "dbt-demo-run: artifacts of run $n in $PROJECT/$run_dir"
echo "dbt-demo-run: current source freshness in $PROJECT/.freshlens/current/sources.json"
