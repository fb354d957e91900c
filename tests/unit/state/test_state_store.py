"""The state store, fed with real dbt-core 1.11 artifacts (tests/fixtures/artifacts/README.md).

Tests taking ``store_at`` run twice: on the SQLite file and on a PostgreSQL database (same rules).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from state_helpers import copy_run, dump, load, table_dump

from freshlens.state import (
    ArtifactError,
    StateStore,
    StateStoreError,
    default_state_path,
    load_state,
    open_store,
)
from freshlens.state.store import SCHEMA_VERSION

STG = "model.tiny.stg_orders"
CUST = "model.tiny.customer_orders"
EVENTS = "model.tiny.event_counts"
ORDERS = "source.tiny.raw.orders"


def completed_at(artifacts: Path, run: str, uid: str) -> datetime:
    for r in load(artifacts / run / "run_results.json")["results"]:
        if r["unique_id"] == uid:
            t = next(t for t in r["timing"] if t["name"] == "execute")["completed_at"]
            return datetime.fromisoformat(t.replace("Z", "+00:00")).astimezone(UTC)
    raise AssertionError(uid)


def test_default_location_creates_parent_dirs(tmp_path: Path) -> None:
    path = default_state_path(tmp_path / "proj")
    assert path == tmp_path / "proj" / ".freshlens" / "state.db"
    with StateStore(path):
        pass
    assert path.is_file()


def test_accumulates_across_runs(artifacts: Path, store_at: Callable[[str], str], tmp_path: Path) -> None:
    with open_store(store_at("s")) as store:
        r1 = store.ingest(artifacts / "run1")
        assert r1.built == 6 and r1.source_observations == 2
        r2 = store.ingest(artifacts / "run2")
        assert r2.built == 3  # stg_orders, orders_snap, customer_orders
        snap = store.snapshot()
    stg, events = snap.nodes[STG], snap.nodes[EVENTS]
    assert stg.last_success_at == completed_at(artifacts, "run2", STG)
    # event_counts was not selected in run 2: it keeps its real run-1 build and fingerprint.
    assert events.last_success_at == completed_at(artifacts, "run1", EVENTS)
    assert (
        events.last_invocation_id
        == load(artifacts / "run1" / "run_results.json")["metadata"]["invocation_id"]
    )
    assert stg.fingerprint is not None and "status" not in (stg.fingerprint.relation.relation_name or "")
    # The source history holds both observations; the build saw the newer one (measured before it).
    assert [o.max_loaded_at for o in snap.sources[ORDERS].history] == [
        datetime(2026, 1, 1, 11, tzinfo=UTC),
        datetime(2026, 1, 2, 8, tzinfo=UTC),
    ]
    at_build = stg.sources_at_build[ORDERS]
    assert (
        at_build is not None
        and at_build.exact
        and at_build.max_loaded_at == datetime(2026, 1, 2, 8, tzinfo=UTC)
    )
    # stg_customers was built in run 1 *before* `dbt source freshness` ran: the same run's reading stands in.
    cust_src = snap.nodes["model.tiny.stg_customers"].sources_at_build["source.tiny.raw.customers"]
    assert cust_src is not None and not cust_src.exact
    # catalog.json: relation types; a build after the catalog keeps "exists".
    assert snap.nodes["model.tiny.stg_customers"].relation_type == "VIEW"
    assert snap.sources["source.tiny.raw.events_v"].relation_type == "VIEW"
    assert stg.relation_exists is True


def test_fusion_reused_keeps_last_build_and_records_reason(
    artifacts: Path, store_at: Callable[[str], str], tmp_path: Path
) -> None:
    fusion = copy_run("fusion_reused", tmp_path / "run3", manifest_from="run2")
    with open_store(store_at("s")) as store:
        store.ingest(artifacts / "run1")
        store.ingest(artifacts / "run2")
        report = store.ingest(fusion)
        snap = store.snapshot()
    assert report.reused == 5 and report.built == 1
    cust = snap.nodes[CUST]
    assert cust.last_status == "reused" and cust.last_message == "No new changes on all upstreams"
    assert cust.last_success_at == completed_at(artifacts, "run2", CUST)  # not moved by "reused"
    assert snap.nodes[EVENTS].last_status == "success"
    assert snap.nodes[EVENTS].last_success_at is not None
    assert snap.nodes[EVENTS].last_success_at > completed_at(artifacts, "run2", CUST)


def test_ingest_is_idempotent(artifacts: Path, store_at: Callable[[str], str], tmp_path: Path) -> None:
    db = store_at("s")
    with open_store(db) as store:
        store.ingest(artifacts / "run1")
        store.ingest(artifacts / "run2")
    before = table_dump(db)
    with open_store(db) as store:
        again = store.ingest(artifacts / "run2")
        store.ingest(artifacts / "run1")
    assert not again.changed and "already ingested" in again.summary()
    after = table_dump(db)
    # Only the bookkeeping rows are identical too: nothing was added or changed.
    assert after == before


def test_out_of_order_ingest_does_not_move_times_backwards(
    artifacts: Path, store_at: Callable[[str], str], tmp_path: Path
) -> None:
    with open_store(store_at("a")) as a:
        a.ingest(artifacts / "run1")
        a.ingest(artifacts / "run2")
        in_order = a.snapshot()
    with open_store(store_at("b")) as b:
        b.ingest(artifacts / "run2")
        b.ingest(artifacts / "run1")
        reversed_ = b.snapshot()
    for uid, node in in_order.nodes.items():
        other = reversed_.nodes[uid]
        assert (other.last_success_at, other.last_status, other.fingerprint) == (
            node.last_success_at,
            node.last_status,
            node.fingerprint,
        ), uid
    assert reversed_.sources[ORDERS].history == in_order.sources[ORDERS].history


def test_ingest_is_atomic(
    artifacts: Path, store_at: Callable[[str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = store_at("s")
    with open_store(db) as store:
        store.ingest(artifacts / "run1")
    before = table_dump(db)

    def boom(*_args: object) -> None:
        raise RuntimeError("crash while ingesting sources.json")

    # run_results (and the manifest) are written before sources.json; the failure must undo them.
    monkeypatch.setattr(StateStore, "_ingest_sources", boom)
    with open_store(db) as store, pytest.raises(RuntimeError):
        store.ingest(artifacts / "run2")
    assert table_dump(db) == before
    monkeypatch.undo()
    with open_store(db) as store:
        assert store.ingest(artifacts / "run2").built == 3  # not marked as ingested by the failed attempt


def test_docs_generate_results_are_not_builds(
    artifacts: Path, store_at: Callable[[str], str], tmp_path: Path
) -> None:
    gen = copy_run("docs_generate", tmp_path / "gen", manifest_from="run1")
    with open_store(store_at("s")) as store:
        report = store.ingest(gen)
        snap = store.snapshot()
    assert report.built == 0 and any("dbt generate" in n for n in report.notes)
    assert all(n.last_success_at is None for n in snap.nodes.values())


def test_clear_forgets_builds_and_records_when(
    artifacts: Path, store_at: Callable[[str], str], tmp_path: Path
) -> None:
    db = store_at("s")
    with open_store(db) as store:
        store.ingest(artifacts / "run1")
        store.clear()
        snap = store.snapshot()
        # A run from before the clear is not re-learned.
        late = store.ingest(artifacts / "run2")
    assert snap.cleared_at is not None
    assert all(n.last_success_at is None and n.fingerprint is None for n in snap.nodes.values())
    assert snap.sources[ORDERS].history  # source observations are data, not build state: kept
    assert late.built == 0 and any("cleared" in n for n in late.notes)
    assert load_state(db).cleared_at == snap.cleared_at


def test_sources_only_directory(artifacts: Path, store_at: Callable[[str], str], tmp_path: Path) -> None:
    d = tmp_path / "fresh"
    d.mkdir()
    (d / "sources.json").write_bytes((artifacts / "run2" / "sources.json").read_bytes())
    with open_store(store_at("s")) as store:
        report = store.ingest(d)
        snap = store.snapshot()
    assert report.source_observations == 2 and not snap.nodes
    assert snap.sources[ORDERS].latest is not None


def test_directory_problems_are_clear(
    artifacts: Path, store_at: Callable[[str], str], tmp_path: Path
) -> None:
    with open_store(store_at("s")) as store:
        with pytest.raises(ArtifactError, match="no dbt artifacts found"):
            store.ingest(tmp_path)
        only_rr = tmp_path / "rr"
        only_rr.mkdir()
        (only_rr / "run_results.json").write_bytes((artifacts / "run1" / "run_results.json").read_bytes())
        with pytest.raises(ArtifactError, match=r"without manifest\.json"):
            store.ingest(only_rr)
        with pytest.raises(ArtifactError, match="not a directory"):
            store.ingest(tmp_path / "missing")


def test_newer_schema_and_non_database_files(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with StateStore(db):
        pass
    con = sqlite3.connect(db)
    con.execute("update meta set value = ? where key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    con.commit()
    con.close()
    newer = SCHEMA_VERSION + 1
    with pytest.raises(StateStoreError, match=rf"newer freshlens \(schema v{newer}\).*Upgrade freshlens"):
        StateStore(db)
    junk = tmp_path / "junk.db"
    junk.write_text("this is not sqlite" * 100)
    with pytest.raises(StateStoreError, match="cannot open the freshlens state store"):
        StateStore(junk)


def test_a_v2_store_with_named_fingerprints_reads_the_same_after_the_upgrade(
    artifacts: Path, tmp_path: Path
) -> None:
    """Schema v3 writes fingerprints as arrays; a v2 store's rows are objects with named fields. Opening
    it upgrades it in place without rewriting them, and its snapshot is exactly what it was."""
    import json

    from freshlens.state.artifacts import NodeFingerprint

    db = tmp_path / "s.db"
    with StateStore(db) as store:
        store.ingest(copy_run("run1", tmp_path / "run1"))
        before = store.snapshot()
    con = sqlite3.connect(db)
    stored = con.execute("select unique_id, fingerprint from nodes where fingerprint is not null").fetchall()
    assert stored and all(text.startswith("[") for _uid, text in stored)  # v3 writes arrays
    for uid, text in stored:  # what freshlens wrote at v2: the fields by name
        values = dict(zip(NodeFingerprint._fields, json.loads(text), strict=True))
        values["relation"] = dict(
            zip(("database", "schema", "identifier", "relation_name"), values["relation"], strict=True)
        )
        con.execute("update nodes set fingerprint = ? where unique_id = ?", (json.dumps(values), uid))
    con.execute("update meta set value = '2' where key = 'schema_version'")
    con.commit()
    con.close()
    with StateStore(db) as store:
        assert store.migrated_from == 2
        after = store.snapshot()
    assert after.nodes == before.nodes
    con = sqlite3.connect(db)
    assert con.execute("select value from meta where key = 'schema_version'").fetchone() == (
        str(SCHEMA_VERSION),
    )
    assert all(
        t.startswith("{")
        for (t,) in con.execute("select fingerprint from nodes where fingerprint is not null")
    )
    con.close()


def test_load_state_directory_is_in_memory(artifacts: Path, tmp_path: Path) -> None:
    run = copy_run("run2", tmp_path / "run2")
    snap = load_state(run)
    assert snap.origin == str(run)
    assert sorted(p.name for p in run.iterdir()) == [
        "catalog.json",
        "manifest.json",
        "run_results.json",
        "sources.json",
    ]
    assert snap.nodes[STG].last_success_at == completed_at(artifacts, "run2", STG)
    assert snap.nodes[EVENTS].last_success_at is None  # one run only: it was not selected
    assert snap.nodes[EVENTS].last_status is None


def test_load_state_db_and_missing(artifacts: Path, store_at: Callable[[str], str], tmp_path: Path) -> None:
    db = store_at("s")
    with open_store(db) as store:
        store.ingest(artifacts / "run1")
    assert load_state(db).nodes[EVENTS].last_success_at is not None
    with pytest.raises(StateStoreError, match="freshlens state ingest"):
        load_state(tmp_path / "nothing.db")


def test_failed_data_test_is_reported_on_the_model(artifacts: Path, tmp_path: Path) -> None:
    run = copy_run("run2", tmp_path / "run2")
    data = load(run / "run_results.json")
    for r in data["results"]:
        if r["unique_id"].startswith("test.tiny.unique_customer_orders_id"):
            r["status"], r["message"] = "fail", "Got 1 result, configured to fail if != 0"
    dump(run / "run_results.json", data)
    snap = load_state(run)
    assert snap.nodes[CUST].failed_tests == ("test.tiny.unique_customer_orders_id.0203a20446",)
    assert snap.nodes[STG].failed_tests == ()


def test_ingest_records_where_the_run_came_from(
    artifacts: Path, store_at: Callable[[str], str], tmp_path: Path
) -> None:
    # A run downloaded to a scratch folder is remembered by its origin, not by the folder.
    with open_store(store_at("s")) as store:
        rep = store.ingest(artifacts / "run1", origin="dbt platform job 7, run 70")
        assert rep.directory == "dbt platform job 7, run 70"
        assert store.snapshot().last_run_source == "dbt platform job 7, run 70"
        store.ingest(artifacts / "run2")
        snap = store.snapshot()
    assert snap.last_run_source == str(artifacts / "run2")
    assert load_state(artifacts / "run1").last_run_source == str(artifacts / "run1")


def test_json_columns_decoded_together_are_each_their_own_value() -> None:
    """The snapshot decodes a column's JSON for all rows in one call; a row holding two values, or
    a damaged one, must not shift or hide the others: it is decoded alone and its own error raised."""
    import json

    from freshlens.state.reading import json_many

    assert json_many([]) == []
    assert json_many(['{"a": 1}', "[2]", "null"]) == [{"a": 1}, [2], None]
    with pytest.raises(json.JSONDecodeError):
        json_many(['{"a": 1}', '{"b": 2},{"c": 3}', "[4]"])  # would have decoded as four values
    with pytest.raises(json.JSONDecodeError):
        json_many(['{"a": 1}', '{"b": '])
