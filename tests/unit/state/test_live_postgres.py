"""Live source freshness from a real PostgreSQL server, read-only (issue 8; spec sao.md S1/S2, D6.1/D6.2).

A throwaway cluster (tests/pgcluster.py) holds raw tables and a view; freshlens measures them as dbt
would, refuses anything but one SELECT, cannot write even through a function with side effects (the
session and each transaction are read-only), stops a query that runs too long, and says what it could
not measure instead of guessing. Then the same through ``freshlens plan --live`` with a dbt-postgres
profile whose password comes from ``env_var()``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest

from freshlens.state.freshness import ALWAYS_NEW, ERROR, MEASURED, UNKNOWN, FreshnessError, SourceSpec
from freshlens.state.live_postgres import connection_params, live_postgres_freshness, target_value

psycopg = pytest.importorskip("psycopg")

LOADED = datetime(2026, 12, 1, 6, 30, tzinfo=UTC)


def _params(dsn: str) -> dict[str, str]:
    u = urlparse(dsn)
    return {
        "host": u.hostname or "",
        "port": str(u.port),
        "user": u.username or "",
        "dbname": u.path.lstrip("/"),
    }


@pytest.fixture
def warehouse(pg_dsn) -> str:  # type: ignore[no-untyped-def]
    dsn: str = pg_dsn()
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("create schema raw")
        con.execute("create table raw.orders (id int, loaded_at timestamptz)")
        con.execute("insert into raw.orders values (1, %s), (2, %s)", (LOADED - timedelta(hours=3), LOADED))
        con.execute("create table raw.plain (id int)")
        con.execute("create view raw.orders_v as select id from raw.orders")
        con.execute("create table raw.audit (n int)")
        con.execute(
            "create function raw.touch() returns timestamptz language plpgsql as "
            "$$ begin insert into raw.audit values (1); return now(); end $$"
        )
        con.execute("create table raw.naive (loaded_at timestamp)")
        con.execute("insert into raw.naive values ('2026-12-01 05:00:00')")
    return dsn


def spec(name: str, **kw: str) -> SourceSpec:
    return SourceSpec(f"source.p.raw.{name}", None, kw.pop("schema", "raw"), kw.pop("identifier", name), **kw)  # type: ignore[arg-type]


def test_sources_are_measured_as_dbt_would_and_the_rest_is_said(warehouse: str) -> None:
    specs = [
        spec("orders", loaded_at_field="loaded_at"),
        spec("orders_filtered", identifier="orders", loaded_at_field="loaded_at", filter="id = 1"),
        spec("orders_q", identifier="orders", loaded_at_query="select max(loaded_at) from {{ this }}"),
        spec("orders_v"),  # a view without loaded_at_*: always new data (D6.1)
        spec("plain"),  # a table without loaded_at_*: PostgreSQL has no metadata time (D6.2)
        spec("missing", loaded_at_field="x"),
        spec("naive", loaded_at_field="loaded_at"),  # timestamp without time zone: UTC, as dbt assumes
        SourceSpec("source.p.raw.elsewhere", "other_db", "raw", "orders", loaded_at_field="loaded_at"),
    ]
    got = live_postgres_freshness(specs, _params(warehouse))
    orders = got["source.p.raw.orders"]
    assert (orders.status, orders.max_loaded_at) == (MEASURED, LOADED)
    assert got["source.p.raw.orders_filtered"].max_loaded_at == LOADED - timedelta(hours=3)
    assert got["source.p.raw.orders_q"].max_loaded_at == LOADED
    assert got["source.p.raw.orders_v"].status == ALWAYS_NEW
    plain = got["source.p.raw.plain"]
    assert plain.status == UNKNOWN and "keeps no modification time" in plain.note
    assert got["source.p.raw.missing"].status == UNKNOWN and "not found" in got["source.p.raw.missing"].note
    assert got["source.p.raw.naive"].max_loaded_at == datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    other = got["source.p.raw.elsewhere"]
    assert other.status == ERROR and "cannot read across databases" in other.note


def test_nothing_is_ever_written_and_nothing_runs_forever(warehouse: str) -> None:
    specs = [
        spec("del", identifier="orders", loaded_at_query="delete from raw.orders returning now()"),
        spec("two", identifier="orders", loaded_at_query="select now(); drop table raw.orders"),
        # passes the SELECT check, but the function inserts: the read-only transaction refuses it
        spec("sneaky", identifier="orders", loaded_at_query="select raw.touch()"),
        spec(
            "slow", identifier="orders", loaded_at_query="select max(loaded_at) from {{ this }}, pg_sleep(30)"
        ),
    ]
    t0 = time.monotonic()
    got = live_postgres_freshness(specs, _params(warehouse), statement_timeout_ms=500)
    assert time.monotonic() - t0 < 10
    assert "refused to run" in got["source.p.raw.del"].note
    assert "refused to run" in got["source.p.raw.two"].note
    sneaky = got["source.p.raw.sneaky"]
    assert sneaky.status == ERROR and "read-only transaction" in sneaky.note
    slow = got["source.p.raw.slow"]
    assert slow.status == ERROR and "statement timeout" in slow.note
    # all sources together stay within a budget: those left over say so instead of waiting
    t0 = time.monotonic()
    got = live_postgres_freshness(
        [specs[3], spec("orders", loaded_at_field="loaded_at")], _params(warehouse), 400, budget_s=0.1
    )
    assert time.monotonic() - t0 < 5
    assert got["source.p.raw.slow"].status == ERROR
    left = got["source.p.raw.orders"]
    assert left.status == ERROR and "used up its 0.1 s" in left.note
    with psycopg.connect(warehouse) as con:
        assert con.execute("select count(*) from raw.audit").fetchone() == (0,)
        assert con.execute("select count(*) from raw.orders").fetchone() == (2,)


def test_an_unreachable_server_or_refused_login_is_one_clear_error(warehouse: str) -> None:
    p = _params(warehouse)
    with pytest.raises(FreshnessError, match=r"cannot connect to PostgreSQL .* check the profile's target"):
        live_postgres_freshness([spec("orders")], {**p, "dbname": "no_such_db"})
    closed = {**p, "port": "1"}  # nothing listens there
    with pytest.raises(FreshnessError, match="cannot connect"):
        live_postgres_freshness([spec("orders")], closed)


def test_profile_values_read_env_var_as_dbt_does() -> None:
    env = {"PGPW": "s3cret", "HOST": "db.internal"}
    assert target_value("{{ env_var('PGPW') }}", env) == "s3cret"
    assert target_value('{{ env_var("NOPE", "fallback") }}', env) == "fallback"
    assert target_value("{{ env_var('NOPE') }}", env) is None
    assert target_value("{{ other() }}", env) is None
    assert target_value("{{ env_var('NOPE', '5433') | as_number }}", env) == "5433"
    got = connection_params(
        {
            "type": "postgres",
            "host": "{{ env_var('HOST') }}",
            "port": 5433,
            "user": "u",
            "pass": "{{ env_var('PGPW') }}",
            "dbname": "d",
        },
        env,
    )
    assert got == {"host": "db.internal", "port": "5433", "user": "u", "password": "s3cret", "dbname": "d"}


def test_plan_live_reads_the_postgres_profile(warehouse: str, tmp_path: Path) -> None:
    p = _params(warehouse)
    files = {
        "dbt_project.yml": "name: shop\nversion: '1.0'\nprofile: shop\n",
        "profiles.yml": (
            "shop:\n  target: pg\n  outputs:\n    pg:\n      type: postgres\n"
            f"      host: {p['host']}\n      port: {p['port']}\n      user: {p['user']}\n"
            "      password: \"{{ env_var('SHOP_PG_PASSWORD') }}\"\n"
            f"      dbname: {p['dbname']}\n      schema: public\n      threads: 1\n"
        ),
        "models/sources.yml": (
            "version: 2\nsources:\n  - name: raw\n    schema: raw\n    loaded_at_field: loaded_at\n"
            "    freshness: {warn_after: {count: 1, period: day}}\n    tables:\n      - name: orders\n"
        ),
        "models/stg_orders.sql": "select * from {{ source('raw', 'orders') }}",
    }
    for rel, text in files.items():
        f = tmp_path / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    env = {**os.environ, "SHOP_PG_PASSWORD": "unused-with-trust-auth"}
    done = subprocess.run(
        [sys.executable, "-m", "freshlens", "plan", ".", "--live", "--format", "json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    doc = json.loads(done.stdout)
    assert (
        doc["freshness"] == f"live PostgreSQL {p['user']}@{p['host']}:{p['port']}/{p['dbname']} (read-only)"
    )
    assert "unused-with-trust-auth" not in done.stdout + done.stderr
