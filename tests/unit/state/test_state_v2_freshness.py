"""dbt v2 ``freshness.json`` (spec dbt-v2-freshness.md §5 A1–A6, S5) wherever ``sources.json`` is read.

Fixtures: tests/fixtures/artifacts/v2_freshness (README there says how they were made).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from state_helpers import dump, load

from freshlens.state import (
    ArtifactError,
    StateStore,
    read_freshness,
    read_freshness_artifact,
    read_sources,
)
from freshlens.state.freshness import ERROR, MEASURED, UNKNOWN, current_freshness_from_file

ORDERS = "source.tiny.raw.orders"
CUSTOMERS = "source.tiny.raw.customers"
STG = "model.tiny.stg_orders"


@pytest.fixture
def v2(artifacts: Path) -> Path:
    return artifacts / "v2_freshness"


def test_a1_a3_models_and_sources_with_v2_statuses(v2: Path) -> None:
    f = read_freshness(v2 / "freshness.json")
    assert f.meta.schema_version == 0 and f.meta.dbt_version == "2.0.6"
    assert f.meta.generated_at == datetime(2026, 9, 24, 4, 48, 26, 784213, tzinfo=UTC)
    got = [(r.unique_id, r.resource_type, r.status) for r in f.results]
    assert got == [
        ("model.tiny.customer_orders", "model", "warn"),
        (STG, "model", "pass"),
        (CUSTOMERS, "source", "error"),
        (ORDERS, "source", "pass"),
    ]
    stg = next(r for r in f.results if r.unique_id == STG)
    assert stg.max_loaded_at == datetime(2026, 9, 24, 2, tzinfo=UTC) and stg.error is None


def test_a6_v2_sources_json_capitalised_statuses_read_like_core(v2: Path) -> None:
    s = read_sources(v2 / "sources.json")
    assert [(r.unique_id, r.status, r.resource_type) for r in s.results] == [
        (CUSTOMERS, "error", "source"),
        (ORDERS, "pass", "source"),
    ]


def test_a1_either_file_is_told_apart_by_its_schema_url_not_its_name(v2: Path, tmp_path: Path) -> None:
    # a freshness.json saved under another name is still read as one
    shutil.copy(v2 / "freshness.json", tmp_path / "sources.json")
    assert {r.resource_type for r in read_freshness_artifact(tmp_path / "sources.json").results} == {
        "model",
        "source",
    }
    assert read_freshness_artifact(v2 / "sources.json").meta.schema_version == 3
    with pytest.raises(ArtifactError, match=r"`freshness` artifact, not sources\.json"):
        read_sources(tmp_path / "sources.json")
    with pytest.raises(ArtifactError, match=r"`sources` artifact, not freshness\.json"):
        read_freshness(v2 / "sources.json")


def test_unsupported_version_unknown_status_and_bad_resource_type(v2: Path, tmp_path: Path) -> None:
    data = load(v2 / "freshness.json")
    data["metadata"]["dbt_schema_version"] = "https://schemas.getdbt.com/dbt/freshness/v1.json"
    dump(tmp_path / "freshness.json", data)
    with pytest.raises(ArtifactError, match=r"schema version v1 .*freshlens reads v0.*upgrade freshlens"):
        read_freshness(tmp_path / "freshness.json")

    data = load(v2 / "freshness.json")
    data["results"][1]["status"] = "Stale"
    dump(tmp_path / "freshness.json", data)
    with pytest.raises(ArtifactError, match=r"`results\[1\]\.status` is 'Stale'; freshlens knows pass, warn"):
        read_freshness_artifact(tmp_path / "freshness.json")

    data = load(v2 / "freshness.json")
    del data["results"][0]["resource_type"]
    dump(tmp_path / "freshness.json", data)
    with pytest.raises(ArtifactError, match=r"`results\[0\]\.resource_type` should be a string"):
        read_freshness(tmp_path / "freshness.json")

    data = load(v2 / "freshness.json")
    data["results"][2]["resource_type"] = "model"  # a source id said to be a model
    dump(tmp_path / "freshness.json", data)
    with pytest.raises(ArtifactError, match=r"is 'model' for 'source\.tiny\.raw\.customers'"):
        read_freshness(tmp_path / "freshness.json")

    (tmp_path / "freshness.json").write_text('{"metadata": {}, "results": []}')
    with pytest.raises(ArtifactError, match=r"no readable `metadata\.dbt_schema_version`"):
        read_freshness_artifact(tmp_path / "freshness.json")


def test_s5_current_freshness_from_freshness_json_keeps_sources_only(v2: Path) -> None:
    got = current_freshness_from_file(
        v2 / "freshness.json", expected=[ORDERS, CUSTOMERS, "source.tiny.raw.events_v"]
    )
    assert set(got) == {ORDERS, CUSTOMERS, "source.tiny.raw.events_v"}  # no model.* entry
    assert got[ORDERS].status == MEASURED and got[ORDERS].check_status == "pass"
    assert got[ORDERS].max_loaded_at == datetime(2026, 9, 24, 4, 30, tzinfo=UTC)
    # an Error *status* is still a measurement: the source has data, only its SLA is breached
    assert got[CUSTOMERS].status == MEASURED and got[CUSTOMERS].check_status == "error"
    # dbt v2 omits a source whose measurement failed (A5): treated as updated (D6.2)
    assert got["source.tiny.raw.events_v"].status == UNKNOWN
    assert ERROR not in {g.status for g in got.values()}


def test_store_ingests_freshness_json_of_a_run_folder(v2: Path, tmp_path: Path) -> None:
    only = tmp_path / "only"
    only.mkdir()
    shutil.copy(v2 / "freshness.json", only / "freshness.json")
    with StateStore(tmp_path / "s.db") as store:
        r = store.ingest(only)
        assert r.read == ["freshness.json"] and r.source_observations == 2
        assert any("2 model SLA result(s) not stored" in n for n in r.notes)
        again = store.ingest(only)
        assert again.already_ingested == ["freshness.json"] and not again.changed
        # the same invocation's sources.json adds nothing new (one observation per source and run)
        both = store.ingest(v2)
        assert both.read == ["sources.json", "freshness.json"] and both.source_observations == 0
        snap = store.snapshot()
    assert set(snap.sources) >= {ORDERS, CUSTOMERS} and STG not in snap.sources
    obs = snap.sources[ORDERS].history
    assert len(obs) == 1 and obs[0].max_loaded_at == datetime(2026, 9, 24, 4, 30, tzinfo=UTC)
    assert obs[0].status == "pass"


def test_remote_run_folders_bring_freshness_json(v2: Path, tmp_path: Path) -> None:
    from freshlens.state.remote import ingest_url

    run = tmp_path / "bucket" / "prod" / "freshness-run"
    run.mkdir(parents=True)
    shutil.copy(v2 / "freshness.json", run / "freshness.json")  # a dbt freshness step alone
    with StateStore(tmp_path / "s.db") as store:
        (rep,) = ingest_url(store, f"file://{tmp_path / 'bucket' / 'prod'}")
        assert rep.read == ["freshness.json"] and rep.source_observations == 2
        assert store.snapshot().sources[ORDERS].latest is not None


def test_plan_sources_option_takes_a_freshness_json(artifacts: Path, v2: Path, tmp_path: Path) -> None:
    """`freshlens plan --sources freshness.json`: its source results are the current freshness (S5)."""
    import json
    import subprocess
    import sys

    project = tmp_path / "tiny"
    shutil.copytree(artifacts / "tiny_project", project)
    db = tmp_path / "s.db"
    with StateStore(db) as store:
        store.ingest(artifacts / "run2")

    AT = ("--at", "2026-09-24T05:00:00Z", "--format", "json")

    def plan(*extra: str) -> dict[str, str]:
        r = subprocess.run(
            [sys.executable, "-m", "freshlens", "plan", str(project), "--state", str(db), *AT, *extra],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return {m["name"]: m["short"] for m in json.loads(r.stdout)["models"]}

    assert plan()["orders_snap"] == "no current freshness for source raw.orders"
    got = plan("--sources", str(v2 / "freshness.json"))["orders_snap"]
    assert got.startswith("new data in source raw.orders (30 min ago)"), got
    # the current-freshness folder takes dbt v2's freshness.json as it takes sources.json
    current = project / ".freshlens" / "current"
    current.mkdir(parents=True)
    shutil.copy(v2 / "freshness.json", current / "freshness.json")
    assert plan()["orders_snap"].startswith("new data in source raw.orders (30 min ago)")
