"""Helpers for the planner tests in tests/dbt: a small DuckDB shop project, real dbt runs, ``freshlens plan``.

Imported as a plain module (like ``dbtdiff``; this folder is deliberately not a package).

The project has no ``build_after``/``state`` configs unless a test adds them::

    raw.orders ──> stg_orders ──┐
    raw.payments ─> stg_payments ┴> order_facts ─┬> order_amounts ─┐   (order_amounts uses macro cents)
                                                 ├> order_counts ──┴> order_summary   (diamond)
    raw.customers > stg_customers ─┬> customer_orders (also <- order_facts) > customer_rank > top_customers
                                   └> customer_names

Staging models are views, marts are tables. Every raw table has a ``loaded_at`` column (the sources'
``loaded_at_field``) with fixed timestamps, so ``dbt source freshness`` measures them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dbtdiff import DBT, DBT_TIMEOUT_S, FRESHLENS_PY, REPO, dbt_env, write_files

DBT_PY = REPO / ".venv-dbt" / "bin" / "python"
MISSING_DBT = f"real dbt not installed ({DBT.relative_to(REPO)} missing): run scripts/setup.sh"

PROJECT: dict[str, str] = {
    "dbt_project.yml": """\
name: shop
version: "1.0.0"
config-version: 2
profile: shop
models:
  shop:
    staging:
      +materialized: view
    marts:
      +materialized: table
""",
    "profiles.yml": """\
shop:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: shop.duckdb
      threads: 1
""",
    "models/staging/_sources.yml": """\
version: 2
sources:
  - name: raw
    schema: raw
    config:
      loaded_at_field: loaded_at
      freshness:
        warn_after: {count: 3650, period: day}
    tables:
      - name: orders
      - name: customers
      - name: payments
""",
    "models/staging/stg_orders.sql": "select id, customer_id from {{ source('raw', 'orders') }}\n",
    "models/staging/stg_customers.sql": "select id, name from {{ source('raw', 'customers') }}\n",
    "models/staging/stg_payments.sql": "select id, order_id, amount from {{ source('raw', 'payments') }}\n",
    "models/marts/order_facts.sql": """\
select o.id, o.customer_id, p.amount
from {{ ref('stg_orders') }} o
left join {{ ref('stg_payments') }} p on p.order_id = o.id
""",
    "macros/cents.sql": "{% macro cents(col) %}cast(round({{ col }} * 100) as bigint){% endmacro %}\n",
    "models/marts/order_amounts.sql": "select id, amount, {{ cents('amount') }} as cents from {{ ref('order_facts') }}\n",
    "models/marts/order_counts.sql": (
        "select customer_id, count(*) as n from {{ ref('order_facts') }} group by 1\n"
    ),
    "models/marts/order_summary.sql": """\
select c.customer_id, c.n, sum(a.amount) as amount
from {{ ref('order_counts') }} c
join {{ ref('order_facts') }} f on f.customer_id = c.customer_id
join {{ ref('order_amounts') }} a on a.id = f.id
group by 1, 2
""",
    "models/marts/customer_orders.sql": """\
select c.id as customer_id, count(f.id) as n_orders, sum(f.amount) as total
from {{ ref('stg_customers') }} c
left join {{ ref('order_facts') }} f on f.customer_id = c.id
group by 1
""",
    "models/marts/customer_rank.sql": (
        "select customer_id, rank() over (order by total desc) as rnk from {{ ref('customer_orders') }}\n"
    ),
    "models/marts/top_customers.sql": "select customer_id from {{ ref('customer_rank') }} where rnk <= 3\n",
    "models/marts/customer_names.sql": "select id, name from {{ ref('stg_customers') }}\n",
}

MODELS = sorted(Path(p).stem for p in PROJECT if p.startswith("models/") and p.endswith(".sql"))

RAW_SQL = """\
create schema if not exists raw;
create or replace table raw.orders as select * from (values
  (1, 1, timestamp '2026-01-01 00:00:00'), (2, 2, timestamp '2026-01-01 01:00:00'),
  (3, 1, timestamp '2026-01-01 02:00:00')) t(id, customer_id, loaded_at);
create or replace table raw.customers as select * from (values
  (1, 'ann', timestamp '2026-01-01 00:00:00'), (2, 'bob', timestamp '2026-01-01 00:30:00'))
  t(id, name, loaded_at);
create or replace table raw.payments as select * from (values
  (1, 1, 10.0, timestamp '2026-01-01 00:00:00'), (2, 2, 20.0, timestamp '2026-01-01 03:00:00'))
  t(id, order_id, amount, loaded_at);
"""

# New rows, loaded later than anything in RAW_SQL.
NEW_ROWS = {
    "orders": "insert into raw.orders values (4, 2, timestamp '2026-01-02 00:00:00')",
    "customers": "insert into raw.customers values (3, 'cy', timestamp '2026-01-02 00:00:00')",
    "payments": "insert into raw.payments values (3, 3, 30.0, timestamp '2026-01-02 00:00:00')",
    # a late row whose loaded_at is older than the table's max: max_loaded_at does not move
    "orders-old": "insert into raw.orders values (5, 1, timestamp '2025-12-31 00:00:00')",
}

ARTIFACTS = ("manifest.json", "run_results.json", "sources.json", "catalog.json")


@dataclass
class Proc:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def check(self) -> Proc:
        if self.returncode != 0:
            raise AssertionError(
                f"command failed (exit {self.returncode}): {' '.join(self.args)}\n"
                f"--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-4000:]}"
            )
        return self


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = DBT_TIMEOUT_S) -> Proc:
    start = time.monotonic()
    proc = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return Proc(args, proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


class ShopProject:
    """One scratch copy of the shop project on disk, with its own DuckDB file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def create(cls, root: Path, extra_files: dict[str, str] | None = None) -> ShopProject:
        write_files(root, {**PROJECT, **(extra_files or {})})
        proj = cls(root)
        proj.duckdb(RAW_SQL)
        return proj

    def copy_to(self, dst: Path) -> ShopProject:
        shutil.copytree(self.root, dst, ignore=shutil.ignore_patterns("logs", "*.wal"))
        return ShopProject(dst)

    @property
    def target(self) -> Path:
        return self.root / "target"

    # -- real dbt --------------------------------------------------------------------------------

    def dbt(self, *args: str) -> Proc:
        """``dbt -q <args> --profiles-dir .`` in the project (quiet: stdout holds only results)."""
        return _run([str(DBT), "-q", *args, "--profiles-dir", str(self.root)], self.root, dbt_env())

    def duckdb(self, sql: str) -> None:
        """Run SQL statements on the project's DuckDB file with dbt's own duckdb (same file version)."""
        code = (
            "import duckdb, sys\ncon = duckdb.connect(sys.argv[1])\ncon.execute(sys.argv[2])\ncon.close()\n"
        )
        _run([str(DBT_PY), "-c", code, str(self.root / "shop.duckdb"), sql], self.root, dbt_env()).check()

    def edit(self, rel: str, text: str) -> None:
        (self.root / rel).write_text(text, encoding="utf-8")

    def save_artifacts(self, dst: Path, names: Iterable[str] = ARTIFACTS) -> Path:
        dst.mkdir(parents=True, exist_ok=True)
        for name in names:
            src = self.target / name
            if src.exists():
                shutil.copy2(src, dst / name)
        return dst

    def dbt_selected(self, *select: str, state: Path) -> set[str]:
        """Model names ``dbt ls --select <select…> --state <state> --resource-type model`` prints."""
        out = self.dbt(
            "ls",
            "--select",
            *select,
            "--state",
            str(state),
            "--resource-type",
            "model",
            "--output",
            "name",
        ).check()
        return {ln.strip() for ln in out.stdout.splitlines() if ln.strip() and " " not in ln.strip()}

    def freshness_then_selected(self, *select: str, state: Path) -> set[str]:
        """``dbt source freshness``, then the model names of::

            dbt ls --select <select…> --state <state> --resource-type model --output name

        Both run through ``dbtRunner`` in one ``.venv-dbt`` process (the same arguments as the CLI; it
        saves a second interpreter start and dbt import, which is most of ``dbt ls``' time here).
        """
        code = (
            "import json, sys\n"
            "from dbt.cli.main import dbtRunner\n"
            "runner = dbtRunner()\n"
            "prof = ['--profiles-dir', sys.argv[1]]\n"
            "fresh = runner.invoke(['-q', 'source', 'freshness', *prof])\n"
            "if not fresh.success:\n"
            "    sys.exit(f'dbt source freshness failed: {fresh.exception}')\n"
            "ls = runner.invoke(['-q', 'ls', '--select', *sys.argv[3:], '--state', sys.argv[2],\n"
            "                    '--resource-type', 'model', '--output', 'name', *prof])\n"
            "if not ls.success:\n"
            "    sys.exit(f'dbt ls failed: {ls.exception}')\n"
            "print('SELECTED=' + json.dumps(sorted(ls.result or [])))\n"
        )
        out = _run(
            [str(DBT_PY), "-c", code, str(self.root), str(state), *select], self.root, dbt_env()
        ).check()
        for line in out.stdout.splitlines():
            if line.startswith("SELECTED="):
                return set(json.loads(line[len("SELECTED=") :]))
        raise AssertionError(f"no dbt ls result in the output:\n{out.stdout[-3000:]}")

    # -- freshlens ----------------------------------------------------------------------------------

    def freshlens(self, *args: str) -> Proc:
        python = FRESHLENS_PY if FRESHLENS_PY.exists() else Path(sys.executable)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "server"), env.get("PYTHONPATH", "")]))
        return _run([str(python), "-m", "freshlens", *args], REPO, env, timeout=120)

    def plan(self, *args: str) -> dict[str, Any]:
        """``freshlens plan <project> <args…> --format json``; returns the document."""
        proc = self.freshlens("plan", str(self.root), *args, "--format", "json").check()
        doc: dict[str, Any] = json.loads(proc.stdout)
        return doc


def models_by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in doc["models"] if m["unique_id"].startswith("model.")}


def describe(doc: dict[str, Any]) -> str:
    lines = []
    for name, m in sorted(models_by_name(doc).items()):
        lines.append(f"  {name:16} {m['action']:7} [{m['rule']}] {m['reason']} — {m['short']}")
    return "\n".join(lines)


def parse_ts(text: str) -> datetime:
    t = text[:-1] + "+00:00" if text.endswith("Z") else text
    d = datetime.fromisoformat(t)
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)


def iso(d: datetime) -> str:
    return d.astimezone(UTC).isoformat().replace("+00:00", "Z")


def build_times(artifacts: Path) -> dict[str, datetime]:
    """Model name -> ``timing[execute].completed_at`` of its ``success`` result in ``run_results.json``."""
    rr = json.loads((artifacts / "run_results.json").read_text(encoding="utf-8"))
    out: dict[str, datetime] = {}
    for r in rr["results"]:
        if not r["unique_id"].startswith("model.") or r["status"] != "success":
            continue
        for t in r["timing"]:
            if t["name"] == "execute" and t.get("completed_at"):
                out[r["unique_id"].split(".")[-1]] = parse_ts(t["completed_at"])
    return out


def generated_at(artifacts: Path, name: str = "run_results.json") -> datetime:
    doc = json.loads((artifacts / name).read_text(encoding="utf-8"))
    return parse_ts(doc["metadata"]["generated_at"])
