"""``freshlens run`` on real dbt: a sequence of runs on a copy of ``examples/jaffle_fresh``.

Each step first asks ``freshlens plan`` what the next run would do, then runs ``freshlens run`` and
checks that it built exactly that (``build`` and ``unknown`` decisions) — and, in the DuckDB
warehouse, that nothing else was rebuilt: before every run each model's table or view gets a
``COMMENT``; dbt-duckdb recreates a relation it builds (``create or replace view``, a table renamed
into place), which drops the comment, and a reused relation keeps it. The incremental ``fct_orders``
is left out of that check: an incremental build inserts into the existing table.

The copy differs from the example in three ways, so that "nothing changed" can mean "nothing is
built": the Python model is removed (both regimes always build Python models, SAO D11 / STATE R5),
and the two configs read from ``var()`` are made literal (a dynamic window is Unknown, and Unknown is
built — run 1 covers that, with every model Unknown for want of state). The runs use the SAO regime:
under dbt State the default 45m lag tolerance holds back every data-triggered build for the few
minutes this test lasts, while SAO with the example's ``build_after`` windows shows builds and
reuses side by side (``fct_orders`` 1h, ``dim_customers`` 6h, the rest unthrottled).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from dbtdiff import DBT, DBT_TIMEOUT_S, REPO, dbt_env
from plannerkit import DBT_PY, MISSING_DBT, Proc

pytestmark = [pytest.mark.dbt, pytest.mark.skipif(not DBT.exists(), reason=MISSING_DBT)]

EXAMPLE = REPO / "examples" / "jaffle_fresh"
FRESHLENS = [str(REPO / ".venv" / "bin" / "python"), "-m", "freshlens"]
MARK = "freshlens-test: not rebuilt"
INCREMENTAL = {"fct_orders"}

STG_PAYMENTS = (EXAMPLE / "models" / "staging" / "stg_payments.sql").read_text(encoding="utf-8")


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> Proc:
    proc = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=DBT_TIMEOUT_S, check=False
    )
    return Proc(args, proc.returncode, proc.stdout, proc.stderr, 0.0)


class Jaffle:
    def __init__(self, root: Path, state: str = "") -> None:
        self.root = root
        self.state = ["--state", state] if state else []  # plans and runs use this store
        self.db = root / "jaffle_fresh.duckdb"
        self.env = dbt_env()
        self.env["PYTHONPATH"] = str(REPO / "server")
        self.env.pop("VIRTUAL_ENV", None)

    def sql(self, *statements: str) -> Any:
        """Run statements with dbt's own duckdb; returns the last one's rows."""
        code = (
            "import duckdb, json, sys\ncon = duckdb.connect(sys.argv[1])\nrows = None\n"
            "for s in sys.argv[2:]:\n    rows = con.execute(s).fetchall()\n"
            "print(json.dumps(rows, default=str))\ncon.close()\n"
        )
        out = _run([str(DBT_PY), "-c", code, str(self.db), *statements], self.root, self.env).check()
        return json.loads(out.stdout.strip().splitlines()[-1])

    def relations(self) -> dict[str, tuple[str, str | None]]:
        """Relation name -> (table | view, comment), in schema main."""
        rows = self.sql(
            "select table_name, 'table', comment from duckdb_tables() where schema_name = 'main' "
            "union all select view_name, 'view', comment from duckdb_views() "
            "where schema_name = 'main' and not internal"
        )
        return {name: (kind, comment) for name, kind, comment in rows}

    def mark(self) -> None:
        self.sql(
            *(f"comment on {kind} main.{name} is '{MARK}'" for name, (kind, _) in self.relations().items())
        )

    def rebuilt(self) -> set[str]:
        """Model relations that lost the mark (recreated since ``mark``), by model name."""
        out = set()
        for name, (_kind, comment) in self.relations().items():
            if comment != MARK:
                out.add(name.replace("dim_customers_v", "dim_customers.v"))
        return out

    def freshlens(self, *args: str) -> Proc:
        return _run([*FRESHLENS, *args], self.root, self.env)

    def plan(self) -> dict[str, str]:
        """Model name -> action of ``freshlens plan --regime sao``."""
        out = self.freshlens("plan", ".", "--regime", "sao", "--format", "json", *self.state).check()
        return {m["name"]: m["action"] for m in json.loads(out.stdout)["models"]}

    def run(self, *args: str, expect_rc: int = 0) -> dict[str, Any]:
        out = self.freshlens(
            "run", ".", "--regime", "sao", "--dbt", str(DBT), "--format", "json", *self.state, *args
        )
        assert out.returncode == expect_rc, f"exit {out.returncode}\n{out.stderr[-4000:]}"
        doc: dict[str, Any] = json.loads(out.stdout)
        return doc

    def refresh(self) -> None:
        """``dbt source freshness`` into the file the planner reads (what ``freshlens run`` does)."""
        _run([str(DBT), "-q", "source", "freshness"], self.root, self.env).check()
        current = self.root / ".freshlens" / "current"
        current.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self.root / "target" / "sources.json", current / "sources.json")

    def edit(self, rel: str, text: str) -> None:
        (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
        (self.root / rel).write_text(text, encoding="utf-8")


def outcomes(doc: dict[str, Any], outcome: str) -> set[str]:
    return {n["name"] for n in doc["nodes"] if n["outcome"] == outcome}


def to_build(plan: dict[str, str]) -> set[str]:
    return {name for name, action in plan.items() if action in ("build", "unknown")}


def check_step(jf: Jaffle, plan: dict[str, str], doc: dict[str, Any], what: str) -> None:
    """The run did what the plan said, and the warehouse shows exactly those relations rebuilt."""
    assert {n["name"]: n["planned"] for n in doc["nodes"]} == plan, what
    built = outcomes(doc, "built")
    assert built == to_build(plan), f"{what}: built {sorted(built)}, plan said {sorted(to_build(plan))}"
    models = {n["name"] for n in doc["nodes"] if n["resource_type"] == "model"}
    expect = {n for n in built if n in models} - INCREMENTAL
    rebuilt = jf.rebuilt() - INCREMENTAL
    assert rebuilt == expect, f"{what}: warehouse rebuilt {sorted(rebuilt)}, run reported {sorted(expect)}"


def make_jaffle(tmp_path_factory: pytest.TempPathFactory, state: str = "") -> Jaffle:
    """A copy of the example, changed as the module docs say, with its demo data loaded."""
    root = tmp_path_factory.mktemp("run") / "jaffle_fresh"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "logs", ".freshlens", "*.duckdb*"))
    (root / "models" / "analytics" / "customer_order_counts.py").unlink()
    core = root / "models" / "marts" / "core" / "_core.yml"
    core.write_text(
        core.read_text().replace("\"{{ var('dim_customers_build_after_hours', 6) }}\"", "6"), "utf-8"
    )
    ops = root / "models" / "marts" / "ops" / "order_events.sql"
    ops.write_text(ops.read_text().replace("var('ops_lag_tolerance', '1h')", "'1h'"), "utf-8")
    proj = Jaffle(root, state)
    _run([str(DBT_PY), str(REPO / "scripts" / "demo-data.py"), "--db", str(proj.db)], root, proj.env).check()
    return proj


@pytest.fixture(scope="module")
def jf(tmp_path_factory: pytest.TempPathFactory) -> Jaffle:
    return make_jaffle(tmp_path_factory)


def test_run_sequence_builds_what_the_plan_says_and_reuses_the_rest(jf: Jaffle) -> None:
    """A sequence of runs: first run, no change, new data in one source, a SQL edit, a failure, a rerun."""
    state = jf.root / ".freshlens" / "state.db"

    # 1. No state: every model is Unknown and built (the summary says why), seeds and snapshots too.
    plan = jf.plan()
    assert set(plan.values()) == {"unknown", "no-op"}, plan
    doc = jf.run()
    assert doc["refreshed_freshness"] and (jf.root / ".freshlens" / "current" / "sources.json").is_file()
    assert outcomes(doc, "built") == to_build(plan)
    assert {"payment_methods", "customers_snapshot", "dim_customers.v1"} <= outcomes(doc, "built")
    unknown = [n for n in doc["nodes"] if n["planned"] == "unknown"]
    assert unknown and all(
        n["message"].startswith("built because the plan could not decide") for n in unknown
    )
    assert outcomes(doc, "no-op") == {"int_order_payments"}
    assert state.is_file() and len(doc["artifacts"]) == 1

    # 2. Nothing changed: everything is reused, dbt build is not started.
    jf.mark()
    plan = jf.plan()
    assert to_build(plan) == set(), plan
    doc = jf.run("--no-refresh")
    assert doc["commands"] == [] and doc["exit_code"] == 0 and doc["artifacts"] == []
    assert outcomes(doc, "reused") == {n for n, a in plan.items() if a == "reuse"}
    check_step(jf, plan, doc, "no change")
    with sqlite3.connect(state) as db:
        got = dict(db.execute("SELECT unique_id, last_status FROM nodes WHERE unique_id LIKE 'model.%'"))
        reasons = db.execute("SELECT count(*) FROM runner_reused").fetchone()[0]
    assert got["model.jaffle_fresh.stg_orders"] == "reused" and reasons >= 13

    # 3. New rows in raw.payments only: its descendants build, except what build_after holds back.
    jf.sql(
        "insert into raw.payments select max(id) + 1, 1, 'coupon', 500, "
        "cast(timezone('UTC', now()) as timestamp) from raw.payments"
    )
    jf.refresh()
    jf.mark()
    plan = jf.plan()
    assert to_build(plan) == {"stg_payments", "finance_payments_daily", "finance_revenue"}, plan
    assert plan["fct_orders"] == "reuse", "fct_orders' build_after of 1h holds it back (SAO D9)"
    doc = jf.run()  # refreshes again: same data, same plan
    check_step(jf, plan, doc, "new payments")
    reused = {n["name"]: n["reason"] for n in doc["nodes"] if n["outcome"] == "reused"}
    assert reused["fct_orders"].startswith("New changes detected. Did not meet build_after of 1h."), reused

    # 4. A SQL edit: that model and its descendants (build_after windows still apply).
    rel = "models/staging/stg_customers.sql"
    jf.edit(rel, (jf.root / rel).read_text() + "where customer_id is not null\n")
    jf.mark()
    plan = jf.plan()
    assert to_build(plan) >= {"stg_customers"} and plan["dim_customers.v1"] == "reuse", plan
    doc = jf.run("--no-refresh")
    check_step(jf, plan, doc, "SQL edit")

    # 5. A failing model: dbt's exit code, the failure and its skipped children reported, the rest built.
    jf.edit("models/staging/stg_payments.sql", "select * from raw.no_such_table\n")
    rel = "models/staging/stg_orders.sql"
    jf.edit(rel, (jf.root / rel).read_text() + "where order_id is not null\n")
    jf.mark()
    plan = jf.plan()
    assert {"stg_payments", "stg_orders"} <= to_build(plan), plan
    doc = jf.run("--no-refresh", expect_rc=1)
    assert doc["exit_code"] == 1
    assert outcomes(doc, "failed") == {"stg_payments"}
    failed_msg = next(n["message"] for n in doc["nodes"] if n["name"] == "stg_payments")
    assert "no_such_table" in failed_msg
    skipped = outcomes(doc, "skipped")
    assert {"finance_payments_daily", "finance_revenue"} <= skipped
    assert "stg_orders" in outcomes(doc, "built")
    rebuilt = jf.rebuilt() - INCREMENTAL
    assert rebuilt == outcomes(doc, "built") - INCREMENTAL, rebuilt
    built_before = outcomes(doc, "built")

    # 6. The fix, then a rerun: it picks up where the failed run stopped, and nothing it built again.
    jf.edit("models/staging/stg_payments.sql", STG_PAYMENTS + "where p.id is not null\n")
    jf.mark()
    plan = jf.plan()
    doc = jf.run("--no-refresh")
    check_step(jf, plan, doc, "rerun")
    assert {"stg_payments", "finance_payments_daily", "finance_revenue"} <= outcomes(doc, "built")
    assert not (outcomes(doc, "built") & (built_before - INCREMENTAL)), "rebuilt what the failed run built"

    # Every run with a dbt build left its artifacts in its own folder, ingested into the store.
    with sqlite3.connect(state) as db:
        runs = db.execute("SELECT exit_code, built FROM runner_runs ORDER BY finished_at").fetchall()
    assert [rc for rc, _ in runs] == [0, 0, 0, 0, 1, 0]
    assert len(os.listdir(jf.root / ".freshlens" / "runs")) == 5


SLOW = """\
{{ config(materialized='table') }}
select count(*) as n from range({{ var('slow_rows', 10) }}) r
where r.range % 7 = 3 and (select count(*) from {{ ref('stg_orders') }}) > 0
"""


def test_interrupted_run_is_picked_up_by_the_next(jf: Jaffle) -> None:
    """Ctrl-C during dbt build: exit 130, nothing unfinished counts as built, the next run builds it."""
    jf.edit("models/slow/slow_orders.sql", SLOW)
    jf.edit("models/slow/after_slow.sql", "select n from {{ ref('slow_orders') }}\n")
    plan = jf.plan()
    assert to_build(plan) == {"slow_orders", "after_slow"}, plan
    args = ["--threads", "1", "--vars", "{slow_rows: 3000000000}"]  # a minute of DuckDB work
    cmd = [*FRESHLENS, "run", ".", "--regime", "sao", "--no-refresh", "--dbt", str(DBT), "--format", "json"]
    proc = subprocess.Popen(
        [*cmd, "--", *args],
        cwd=jf.root,
        env=jf.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's Ctrl-C reaches dbt too
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "START sql table model main.slow_orders" in line:
            break
    else:
        proc.wait(timeout=60)
        raise AssertionError("slow_orders never started:\n" + "".join(seen[-40:]))
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, err[-3000:]
    doc = json.loads(out)
    assert outcomes(doc, "not run") == {"slow_orders", "after_slow"}, doc["counts"]
    assert all("interrupted" in n["message"] for n in doc["nodes"] if n["outcome"] == "not run")
    assert "slow_orders" not in jf.relations()

    jf.mark()
    plan = jf.plan()
    assert to_build(plan) == {"slow_orders", "after_slow"}, plan
    doc = jf.run("--no-refresh")
    check_step(jf, plan, doc, "after the interruption")


def test_dry_run_with_select_runs_nothing(jf: Jaffle) -> None:
    """--dry-run prints the exact dbt command and runs nothing; --select/--exclude are resolved by dbt ls."""
    rel = "models/marts/finance/finance_revenue.sql"
    jf.edit(rel, (jf.root / rel).read_text() + "having sum(amount_cents) is not null\n")
    state = jf.root / ".freshlens" / "state.db"
    before = state.stat().st_mtime_ns
    jf.mark()
    doc = jf.run("--dry-run", "--select", "+finance_revenue", "stg_customers", "--exclude", "stg_customers")
    assert doc["dry_run"] and doc["exit_code"] == 0
    assert doc["commands"] == [f"{DBT} build --select fqn:jaffle_fresh.marts.finance.finance_revenue"], doc[
        "commands"
    ]
    assert outcomes(doc, "built") == {"finance_revenue"}
    assert "fct_daily_orders" in outcomes(doc, "not selected")
    assert jf.rebuilt() == set() and state.stat().st_mtime_ns == before
