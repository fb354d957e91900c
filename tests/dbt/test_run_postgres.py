"""``freshlens run --state postgresql://…`` on real dbt: the same decisions and outcomes as with the
SQLite file (test_run.py), with the history in a PostgreSQL database on the session's cluster."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from dbtdiff import DBT
from plannerkit import MISSING_DBT
from test_run import INCREMENTAL, check_step, make_jaffle, outcomes, to_build

pytestmark = [pytest.mark.dbt, pytest.mark.skipif(not DBT.exists(), reason=MISSING_DBT)]


def test_run_sequence_with_state_in_postgresql(
    tmp_path_factory: pytest.TempPathFactory, pg_dsn: Callable[[], str]
) -> None:
    """First run builds everything; no change reuses everything; new rows in raw.payments build its
    descendants (fct_orders held back by build_after) — as with SQLite — and every run is recorded."""
    url = pg_dsn()
    jf = make_jaffle(tmp_path_factory, state=url)

    plan = jf.plan()
    assert set(plan.values()) == {"unknown", "no-op"}, plan
    doc = jf.run()
    assert outcomes(doc, "built") == to_build(plan)
    assert not (jf.root / ".freshlens" / "state.db").exists()  # nothing written to the default file

    jf.mark()
    plan = jf.plan()
    assert to_build(plan) == set(), plan
    doc = jf.run("--no-refresh")
    assert doc["commands"] == [] and outcomes(doc, "reused") == {n for n, a in plan.items() if a == "reuse"}
    check_step(jf, plan, doc, "no change")

    jf.sql(
        "insert into raw.payments select max(id) + 1, 1, 'coupon', 500, "
        "cast(timezone('UTC', now()) as timestamp) from raw.payments"
    )
    jf.refresh()
    jf.mark()
    plan = jf.plan()
    assert to_build(plan) == {"stg_payments", "finance_payments_daily", "finance_revenue"}, plan
    assert plan["fct_orders"] == "reuse" and "fct_orders" in INCREMENTAL
    doc = jf.run()
    check_step(jf, plan, doc, "new payments")

    with psycopg.connect(url) as con:
        runs = con.execute("SELECT exit_code, built FROM runner_runs ORDER BY finished_at").fetchall()
        status = dict(
            con.execute("SELECT unique_id, last_status FROM nodes WHERE unique_id LIKE 'model.%'").fetchall()
        )
    assert [rc for rc, _ in runs] == [0, 0, 0] and runs[2][1] >= 3
    assert status["model.jaffle_fresh.stg_payments"] == "success"
    assert status["model.jaffle_fresh.fct_orders"] == "reused"
