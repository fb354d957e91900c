#!/usr/bin/env bash
# Run the whole test suite from a fresh machine: sets up what is missing, then lint, types,
# unit + LSP + dbt differential tests (pytest), then the real-editor tests when present.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "setup failed"; exit 1; }

status=0
echo "== ruff"; .venv/bin/ruff check server tests bench || status=1
.venv/bin/ruff format --check server tests bench || status=1
echo "== mypy"; .venv/bin/mypy || status=1
echo "== pytest"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
rc=$?
if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: that is a failure"; rc=1; fi
[ "$rc" -ne 0 ] && status=1
if [ -f scripts/test-editors.sh ] && [ "${FRESHLENS_SKIP_EDITORS:-0}" != "1" ]; then
  echo "== real editors"; bash scripts/test-editors.sh || status=1
fi
exit $status
