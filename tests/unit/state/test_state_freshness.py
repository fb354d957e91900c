"""Current source freshness: sources.json and live read-only DuckDB (spec sao.md S1, S2, D6)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from state_helpers import dump, load

from freshlens.state import (
    FreshnessError,
    SourceSpec,
    current_freshness_from_file,
    live_duckdb_freshness,
    read_manifest,
    select_only_problem,
)
from freshlens.state.freshness import ALWAYS_NEW, ERROR, MEASURED, UNKNOWN


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema raw")
    con.execute("create table raw.orders (id int, loaded_at timestamp, kind varchar)")
    con.execute(
        "insert into raw.orders values (1, '2026-01-01 10:00:00', 'a'), (2, '2026-01-03 12:00:00', 'b'),"
        " (3, '2026-01-02 09:00:00', 'a')"
    )
    con.execute("create table raw.customers (id int, updated_at timestamptz)")
    con.execute("insert into raw.customers values (1, '2026-02-01 08:00:00+00')")
    con.execute("create view raw.events_v as select * from raw.orders")
    con.execute("create table raw.plain (id int)")
    con.close()
    return path


def spec(uid: str, ident: str, **kw: str | None) -> SourceSpec:
    return SourceSpec(unique_id=uid, database="wh", schema="raw", identifier=ident, **kw)  # type: ignore[arg-type]


def test_live_field_filter_query_view_and_missing(warehouse: Path) -> None:
    specs = [
        spec("s.orders", "orders", loaded_at_field="loaded_at"),
        spec("s.orders_a", "orders", loaded_at_field="loaded_at", filter="kind = 'a'"),
        # loaded_at_query wins over loaded_at_field and gets {{ this }} (spec sao.md S1, S2).
        spec(
            "s.customers",
            "customers",
            loaded_at_field="nope",
            loaded_at_query="select max(updated_at) from {{ this }}",
        ),
        spec("s.view", "events_v"),
        spec("s.view_field", "events_v", loaded_at_field="loaded_at"),
        spec("s.plain", "plain"),
        spec("s.gone", "gone", loaded_at_field="loaded_at"),
        spec("s.badcol", "orders", loaded_at_field="no_such_column"),
    ]
    got = live_duckdb_freshness(specs, warehouse)
    assert got["s.orders"].max_loaded_at == datetime(2026, 1, 3, 12, tzinfo=UTC)
    assert got["s.orders"].status == MEASURED and not got["s.orders"].counts_as_new_data
    assert got["s.orders_a"].max_loaded_at == datetime(2026, 1, 2, 9, tzinfo=UTC)
    assert got["s.customers"].max_loaded_at == datetime(2026, 2, 1, 8, tzinfo=UTC)
    assert got["s.view"].status == ALWAYS_NEW and "D6.1" in got["s.view"].note
    assert got["s.view_field"].status == MEASURED
    assert got["s.plain"].status == UNKNOWN and "treated as updated" in got["s.plain"].note
    assert got["s.gone"].status == UNKNOWN and "not found" in got["s.gone"].note
    assert got["s.badcol"].status == ERROR and got["s.badcol"].note.startswith(
        "Failed to extract freshness metadata"
    )
    assert all(v.counts_as_new_data for k, v in got.items() if v.status != MEASURED)


def test_live_connection_is_read_only(warehouse: Path) -> None:
    # Even SQL that slipped past the guard could not write: the file is opened read_only.
    got = live_duckdb_freshness(
        [spec("s.x", "orders", loaded_at_query="select max(loaded_at) from {{ this }}")], warehouse
    )
    assert got["s.x"].status == MEASURED
    con = duckdb.connect(str(warehouse), read_only=True)  # would fail if a writer still held the file
    con.close()


def test_live_refuses_anything_but_one_select(warehouse: Path) -> None:
    evil = [
        spec("s.delete", "orders", loaded_at_query="delete from {{ this }}"),
        spec("s.two", "orders", loaded_at_query="select 1; drop table raw.orders"),
        spec("s.jinja", "orders", loaded_at_query="select max(x) from {{ source('raw', 'orders') }}"),
        spec("s.copy", "orders", loaded_at_query="copy raw.orders to 'out.csv'"),
        spec("s.filter", "orders", loaded_at_field="loaded_at", filter="1=1; drop table raw.orders"),
    ]
    got = live_duckdb_freshness(evil, warehouse)
    assert all(v.status == ERROR for v in got.values()), got
    assert "refused" in got["s.delete"].note and "Jinja" in got["s.jinja"].note
    con = duckdb.connect(str(warehouse), read_only=True)
    assert con.execute("select count(*) from raw.orders").fetchone() == (3,)
    con.close()


@pytest.mark.parametrize(
    "sql",
    [
        "insert into t values (1)",
        "update t set a = 1",
        "delete from t",
        "drop table t",
        "create table x as select 1",
        "select 1; select 2",
        "attach 'other.db'",
        "copy t to 'x.csv'",
        "pragma version",
        "select * into y from t",
        "not sql at all (",
    ],
)
def test_guard_refuses_non_select(sql: str) -> None:
    assert select_only_problem(sql) is not None


@pytest.mark.parametrize(
    "sql",
    ["select max(a) from t", "with x as (select 1 as a) select max(a) from x", "select 1 union all select 2"],
)
def test_guard_accepts_select(sql: str) -> None:
    assert select_only_problem(sql) is None


def test_missing_database_file(tmp_path: Path) -> None:
    with pytest.raises(FreshnessError, match="DuckDB database not found"):
        live_duckdb_freshness([], tmp_path / "nope.duckdb")


def test_specs_from_real_manifest_against_the_fixture_project_shape(artifacts: Path, tmp_path: Path) -> None:
    # The manifest's sources (database "tiny") against a DuckDB file of another name: the database part is dropped.
    m = read_manifest(artifacts / "run2" / "manifest.json")
    specs = [SourceSpec.from_manifest(s) for s in m.sources.values()]
    path = tmp_path / "copy.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema raw")
    con.execute("create table raw.orders (loaded_at timestamp)")
    con.execute("insert into raw.orders values ('2026-01-02 08:00:00')")
    con.execute("create table raw.customers (updated_at timestamp)")
    con.execute("insert into raw.customers values ('2026-01-01 09:30:00')")
    con.execute("create view raw.events_v as select 1 as kind")
    con.close()
    got = live_duckdb_freshness(specs, path)
    # Same answers as dbt's own sources.json for run 2.
    assert got["source.tiny.raw.orders"].max_loaded_at == datetime(2026, 1, 2, 8, tzinfo=UTC)
    assert got["source.tiny.raw.customers"].max_loaded_at == datetime(2026, 1, 1, 9, 30, tzinfo=UTC)
    assert got["source.tiny.raw.events_v"].status == ALWAYS_NEW


def test_from_file_with_error_shape_and_missing_sources(artifacts: Path, tmp_path: Path) -> None:
    data = load(artifacts / "run2" / "sources.json")
    data["results"].append(
        {"unique_id": "source.tiny.raw.broken", "error": "boom", "status": "runtime error"}
    )
    dump(tmp_path / "sources.json", data)
    got = current_freshness_from_file(
        tmp_path / "sources.json", expected=["source.tiny.raw.orders", "source.tiny.raw.events_v"]
    )
    assert got["source.tiny.raw.orders"].max_loaded_at == datetime(2026, 1, 2, 8, tzinfo=UTC)
    assert got["source.tiny.raw.orders"].check_status == "warn"
    assert got["source.tiny.raw.broken"].status == ERROR and "boom" in got["source.tiny.raw.broken"].note
    # dbt-core 1.11 drops errored sources from the file: absent means "treated as updated" (D6.2).
    missing = got["source.tiny.raw.events_v"]
    assert missing.status == UNKNOWN and missing.counts_as_new_data
    assert "Could not find freshness information for source 'source.tiny.raw.events_v'" in missing.note
