"""Ingest writes each statement kind as one batch (``executemany``); that must not change what it does.

The same sequence of runs — including runs older than what is stored, so that some UPDATEs change
nothing, a repeated run, a duplicated result and a result for a node the manifest lacks — is ingested
into SQLite and PostgreSQL, each both batched and one statement per row (the ingest before batching,
with ``rowcount`` summed by hand): every report and the final state must be the same in all four.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from state_helpers import copy_run, dump, load

from freshlens.state import IngestReport, StateSnapshot, open_store
from freshlens.state.backend import Connection

STG = "model.tiny.stg_orders"
CUST = "model.tiny.customer_orders"
LATER = "2026-11-25T15:00:00.000000Z"


@dataclasses.dataclass
class _Affected:
    rowcount: int


class OneStatementPerRow:
    """A store's connection whose ``executemany`` runs one ``execute`` per row and adds up their counts."""

    def __init__(self, db: Connection) -> None:
        self.db = db

    def executemany(self, sql: str, parameters: list[Sequence[Any]]) -> _Affected:
        return _Affected(sum(self.db.execute(sql, row).rowcount for row in parameters))

    def __getattr__(self, name: str) -> Any:  # execute, close, cursor …: the wrapped connection's
        return getattr(self.db, name)


def _runs(artifacts: Path, tmp: Path) -> list[Path]:
    """run2, then the older run1 (its statuses, builds and catalog lose to run2's), Fusion's reused run,
    a later run with a duplicated result, an unknown node and a build older than the stored one, a
    `dbt docs generate`, run1 again (already ingested), and dbt v2 freshness."""
    later = copy_run("run2", tmp / "run3")
    data = load(later / "run_results.json")
    data["metadata"].update(invocation_id="run3-batched", generated_at=LATER)
    stg = next(r for r in data["results"] if r["unique_id"] == STG)
    # Its status is newer than the stored one, its build (run1's time) older than run2's.
    old = next(r for r in load(artifacts / "run1" / "run_results.json")["results"] if r["unique_id"] == STG)
    stg["timing"] = old["timing"]
    # customer_orders was built again after run2; orders_snap keeps run2's build time (not newer).
    cust = next(r for r in data["results"] if r["unique_id"] == CUST)
    cust["timing"] = [{"name": "execute", "started_at": LATER, "completed_at": LATER}]
    data["results"].append({**stg, "status": "error", "message": "boom"})  # the same node twice
    data["results"].append({**stg, "unique_id": "model.tiny.gone"})  # missing from the manifest
    dump(later / "run_results.json", data)
    return [
        artifacts / "run2",
        artifacts / "run1",
        copy_run("fusion_reused", tmp / "fusion", manifest_from="run2"),
        later,
        copy_run("docs_generate", tmp / "gen", manifest_from="run1"),
        artifacts / "run1",
        artifacts / "v2_freshness",
    ]


def _ingest_all(target: str, runs: list[Path], *, per_row: bool) -> tuple[list[IngestReport], StateSnapshot]:
    with open_store(target) as store:
        if per_row:
            store._db = OneStatementPerRow(store._db)
        reports = [store.ingest(run) for run in runs]
        snap = store.snapshot()
    return reports, dataclasses.replace(snap, origin="")


def test_batched_ingest_matches_one_statement_per_row_on_both_backends(
    artifacts: Path, pg_dsn: Callable[[], str], tmp_path: Path
) -> None:
    runs = _runs(artifacts, tmp_path / "runs")
    results = {
        (backend, per_row): _ingest_all(
            str(tmp_path / f"{per_row}.db") if backend == "sqlite" else pg_dsn(), runs, per_row=per_row
        )
        for backend in ("sqlite", "postgres")
        for per_row in (False, True)
    }
    reports, snap = results["sqlite", True]
    for key, (other_reports, other_snap) in results.items():
        assert [dataclasses.asdict(r) for r in other_reports] == [dataclasses.asdict(r) for r in reports], key
        assert other_snap == snap, key

    # The sequence does reach the cases that batching could get wrong.
    run2, run1_after, _fusion, later, _gen, run1_again, _v2 = reports
    assert (run2.statuses, run2.built) == (5, 3)
    # run1 after run2: only the 3 nodes run2 did not run take run1's status and build; its catalog
    # loses to run2's for every relation.
    assert (run1_after.statuses, run1_after.built, run1_after.relations) == (3, 3, 0)
    # Every status is newer (the duplicate counts twice); of the builds only customer_orders' is.
    assert (later.statuses, later.built) == (6, 1)
    assert any("missing from manifest.json" in n for n in later.notes)
    assert not run1_again.changed
    node = snap.nodes[STG]
    assert (node.last_status, node.last_message) == ("error", "boom")
    assert node.last_success_invocation_id == run2.invocation_ids[0]
