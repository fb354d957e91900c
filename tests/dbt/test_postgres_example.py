"""The example project on PostgreSQL, for real (issue 8): dbt-postgres builds examples/jaffle_fresh on a
throwaway cluster, freshlens ingests the run, and ``plan --live`` measures the sources in PostgreSQL
read-only: right after the build nothing has new data; after new orders arrive, exactly the models
downstream of ``jaffle.orders`` see it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from dbtdiff import DBT, DBT_TIMEOUT_S, REPO, dbt_env
from plannerkit import DBT_PY, MISSING_DBT

pytestmark = [pytest.mark.dbt, pytest.mark.skipif(not DBT.exists(), reason=MISSING_DBT)]

EXAMPLE = REPO / "examples" / "jaffle_fresh"
DATA = REPO / "scripts" / "demo-data.py"
ORDERS_ONLY = {"stg_orders", "stg_events"}  # read jaffle.orders (events_v is a view over raw.orders)


def _has_dbt_postgres() -> bool:
    done = subprocess.run(
        [str(DBT_PY), "-c", "import dbt.adapters.postgres"], capture_output=True, check=False, timeout=60
    )
    return done.returncode == 0


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=DBT_TIMEOUT_S, check=False
    )
    assert done.returncode == 0, f"{cmd}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def plan(root: Path, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "freshlens", "plan", ".", "--live", "--regime", "sao", "--format", "json"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=DBT_TIMEOUT_S,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def test_the_example_on_postgres_built_by_dbt_and_planned_live(pg_dsn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if not _has_dbt_postgres():
        pytest.skip("dbt-postgres is not in .venv-dbt: run scripts/setup.sh")
    dsn: str = pg_dsn()
    u = urlparse(dsn)
    root = tmp_path / "jaffle_fresh"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "logs", ".freshlens", "*.duckdb*"))
    env = dbt_env()
    env.update(
        JAFFLE_PG_HOST=u.hostname or "",
        JAFFLE_PG_PORT=str(u.port),
        JAFFLE_PG_USER=u.username or "",
        JAFFLE_PG_DBNAME=u.path.lstrip("/"),
        DBT_TARGET="pg",  # dbt's own variable for --target: freshlens' live freshness follows it too
        PYTHONPATH=str(REPO / "server"),
    )
    env.pop("VIRTUAL_ENV", None)
    run([str(DBT_PY), str(DATA), "--postgres", dsn], root, env)
    run([str(DBT), "build", "--exclude", "customer_order_counts"], root, env)
    run([str(DBT), "source", "freshness"], root, env)
    run([sys.executable, "-m", "freshlens", "state", "ingest", "target"], root, env)

    before = plan(root, env)
    assert before["freshness"].startswith("live PostgreSQL ") and before["freshness"].endswith("(read-only)")
    assert dsn.split("@")[1].split("/")[0] in before["freshness"]
    models = {m["name"]: m for m in before["models"]}
    assert models["stg_orders"]["action"] == "reuse", models["stg_orders"]
    assert models["stg_payments"]["action"] == "reuse"

    run([str(DBT_PY), str(DATA), "--postgres", dsn, "--add-orders", "5"], root, env)
    after = {m["name"]: m for m in plan(root, env)["models"]}
    for name in ORDERS_ONLY:
        assert after[name]["action"] == "build", after[name]
        assert "jaffle" in after[name]["short"], after[name]
    assert after["stg_payments"]["action"] == "reuse"  # payments got nothing new
    assert after["stg_customers"]["action"] == "reuse"
