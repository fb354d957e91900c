#!/usr/bin/env bash
# The example project on a second warehouse: examples/jaffle_fresh on PostgreSQL, run for real with
# dbt-postgres, then planned with live, read-only freshness from PostgreSQL. Called by scripts/demo.sh
# when Debian's postgresql is installed; runs on its own too (after scripts/setup.sh).
#
# It starts a throwaway PostgreSQL server (initdb in a temporary folder, a free port, loopback only,
# as the postgres system user when run as root), loads the raw data, runs `dbt build --target pg`,
# ingests that run into its own state store (.freshlens/state-pg.db, beside the DuckDB demo's), adds
# new orders, shows the plan, and stops and removes the server on exit.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
EX="$ROOT/examples/jaffle_fresh"
FL="$ROOT/.venv/bin/freshlens"
DBT="$ROOT/.venv-dbt/bin/dbt"
PY="$ROOT/.venv-dbt/bin/python"
export DBT_SEND_ANONYMOUS_USAGE_STATS=false DBT_USE_COLORS=false

BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  echo "demo-postgres: PostgreSQL server binaries not found (install Debian's postgresql)" >&2
  exit 2
fi
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

D=$(mktemp -d -t freshlens-demo-pg-XXXXXX)
[ "$(id -u)" = 0 ] && chown postgres:postgres "$D"
cleanup() {
  as_pg "$BIN/pg_ctl" -D "$D/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$D"
}
trap cleanup EXIT
PORT=$("$PY" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
as_pg "$BIN/initdb" -D "$D/data" -A trust -U postgres --no-sync >/dev/null
as_pg "$BIN/pg_ctl" -D "$D/data" -l "$D/log" -w start -o "-p $PORT -k $D -c listen_addresses=127.0.0.1" >/dev/null
as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres jaffle
DSN="postgresql://postgres@127.0.0.1:$PORT/jaffle"
echo "a throwaway PostgreSQL server at 127.0.0.1:$PORT (removed on exit)"

export JAFFLE_PG_HOST=127.0.0.1 JAFFLE_PG_PORT="$PORT" JAFFLE_PG_USER=postgres JAFFLE_PG_DBNAME=jaffle
export DBT_TARGET=pg   # dbt's --target, as a variable: freshlens' live freshness follows it too
cd "$EX"
STATE=.freshlens/state-pg.db
rm -f "$STATE"*
"$PY" "$ROOT/scripts/demo-data.py" --postgres "$DSN"
echo "dbt build on PostgreSQL (the Python model runs on DuckDB only: left out)"
"$DBT" build --target-path target-pg --exclude customer_order_counts >"$D/dbt.log" 2>&1 \
  || { tail -40 "$D/dbt.log"; exit 1; }
grep -E "PASS=" "$D/dbt.log" | tail -1
"$DBT" source freshness --target-path target-pg >>"$D/dbt.log" 2>&1 || { tail -40 "$D/dbt.log"; exit 1; }
"$FL" state ingest target-pg --state "$STATE"
"$PY" "$ROOT/scripts/demo-data.py" --postgres "$DSN" --add-orders 5
echo
echo "freshlens plan --live: source freshness measured in PostgreSQL, read-only"
"$FL" plan . --live --regime sao --state "$STATE"
