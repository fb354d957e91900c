#!/usr/bin/env bash
# Set up everything freshlens needs on a fresh machine: the Python venv with freshlens and its
# dev tools (.venv), and real dbt-core + dbt-duckdb in their own venv (.venv-dbt) for the example
# project and the differential tests. Idempotent: re-running only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# PostgreSQL server binaries for the team-state tests (tests/pgcluster.py starts a throwaway cluster).
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian's postgresql (server binaries for the state-store tests)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "setup: PostgreSQL server binaries missing; install Debian's postgresql (the PostgreSQL tests need it)" >&2
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import freshlens, pytest_lsp, ruff" >/dev/null 2>&1 \
   || [ pyproject.toml -nt .venv/.freshlens-installed ] \
   || [ scripts/constraints-dev.txt -nt .venv/.freshlens-installed ]; then
  # Pinned: unpinned, pip backtracks for minutes through s3fs/aiobotocore/boto3 releases.
  .venv/bin/pip install -q --disable-pip-version-check -c scripts/constraints-dev.txt -e ".[dev]"
  touch .venv/.freshlens-installed
fi

# Real dbt in a separate venv so its pins never fight freshlens' own dependencies.
if [ -f scripts/setup-dbt.sh ]; then
  bash scripts/setup-dbt.sh
fi
