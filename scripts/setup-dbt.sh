#!/usr/bin/env bash
# Real dbt-core + dbt-duckdb (and dbt-postgres, for the example on PostgreSQL) in their own venv
# (.venv-dbt) for the example projects and the differential tests (tests/dbt/). Called by scripts/setup.sh; safe to run on its own.
# Idempotent: a second run only checks the installed versions and returns.
set -euo pipefail
cd "$(dirname "$0")/.."

# DuckDB files are not readable across storage versions, and the freshlens venv (.venv) opens the
# example's DuckDB file for live freshness, so both venvs must install the SAME duckdb release.
# Keep this pin equal to the one in pyproject.toml.
DUCKDB_PIN="${FRESHLENS_DUCKDB_PIN:-1.5.5}"
DBT_CORE_SPEC='dbt-core>=1.11,<1.12'   # 1.12 needs a binary downloaded at build time (recipes)
DBT_DUCKDB_SPEC='dbt-duckdb>=1.11,<1.12'
DBT_POSTGRES_SPEC='dbt-postgres>=1.9,<1.12'   # the example on PostgreSQL (psycopg2-binary comes with it)

export DBT_SEND_ANONYMOUS_USAGE_STATS=false
PY=${PYTHON:-python3}
VENV=.venv-dbt
STAMP="$VENV/.freshlens-dbt-installed"
WANT="duckdb==$DUCKDB_PIN;$DBT_CORE_SPEC;$DBT_DUCKDB_SPEC;$DBT_POSTGRES_SPEC"

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi

# Fast path: same requirements as last time and the packages import at the pinned versions.
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$VENV/bin/dbt" ] \
   && "$VENV/bin/python" - "$DUCKDB_PIN" <<'EOF' >/dev/null 2>&1
import sys
from importlib.metadata import version

assert version("duckdb") == sys.argv[1]
assert version("dbt-core").startswith("1.11.")
assert version("dbt-duckdb").startswith("1.11.")
version("dbt-postgres")
EOF
then
  exit 0
fi

echo "setup-dbt: installing dbt-core 1.11 + dbt-duckdb + dbt-postgres + duckdb==$DUCKDB_PIN into $VENV"
# (The grep drops pip's noise about configured local index folders that do not exist.)
"$VENV/bin/pip" install -q --disable-pip-version-check \
  "$DBT_CORE_SPEC" "$DBT_DUCKDB_SPEC" "$DBT_POSTGRES_SPEC" "duckdb==$DUCKDB_PIN" \
  2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
"$VENV/bin/dbt" --version >/dev/null
printf '%s' "$WANT" > "$STAMP"
echo "setup-dbt: $("$VENV/bin/python" -c 'from importlib.metadata import version as v; print("dbt-core", v("dbt-core"), "dbt-duckdb", v("dbt-duckdb"), "dbt-postgres", v("dbt-postgres"), "duckdb", v("duckdb"))')"
