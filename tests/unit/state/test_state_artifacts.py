"""Artifact readers against real dbt-core 1.11 files (tests/fixtures/artifacts/README.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from state_helpers import dump, load

from freshlens.state import (
    ArtifactError,
    normalised_code,
    read_catalog,
    read_manifest,
    read_run_results,
    read_sources,
)
from freshlens.state.artifacts import config_fingerprint


def test_manifest_nodes_sources_macros(artifacts: Path) -> None:
    m = read_manifest(artifacts / "run2" / "manifest.json")
    assert m.meta.schema_version == 12 and m.adapter_type == "duckdb"
    assert {"model", "seed", "snapshot", "test"} == {n.resource_type for n in m.nodes.values()}
    stg = m.nodes["model.tiny.stg_orders"]
    fp = stg.fingerprint
    assert stg.language == "sql" and stg.original_file_path == "models/stg_orders.sql"
    assert fp.materialized == "table"
    assert str(fp.relation) == '"tiny"."main"."stg_orders"' and fp.relation.identifier == "stg_orders"
    assert fp.depends_on_nodes == ("source.tiny.raw.orders",)
    assert [m_id for m_id, _ in fp.macro_hashes] == ["macro.tiny.cents_to_units"]
    assert fp.freshness == {"build_after": {"count": 4, "period": "hour", "updates_on": "any"}}
    assert fp.checksum.startswith("sha256:")
    src = m.sources["source.tiny.raw.customers"]
    assert (
        src.loaded_at_query == "select max(updated_at) from {{ this }}" and src.loaded_at_field == "loaded_at"
    )
    assert m.sources["source.tiny.raw.events_v"].loaded_at_field is None


def test_fingerprints_tell_code_change_from_comment_change(artifacts: Path) -> None:
    old = read_manifest(artifacts / "run1" / "manifest.json").nodes
    new = read_manifest(artifacts / "run2" / "manifest.json").nodes
    # run 2 edited stg_orders (a column and a comment); nothing else changed.
    changed = [u for u in new if new[u].fingerprint.raw_code_sha256 != old[u].fingerprint.raw_code_sha256]
    assert changed == ["model.tiny.stg_orders"]
    stg_old, stg_new = old["model.tiny.stg_orders"].fingerprint, new["model.tiny.stg_orders"].fingerprint
    assert stg_old.normalised_code_sha256 != stg_new.normalised_code_sha256
    # build_after lives outside the config fingerprint: it is compared on its own.
    assert stg_old.config_sha256 == stg_new.config_sha256


def test_normalised_code_ignores_comments_and_whitespace_only() -> None:
    a = "-- header\nselect  a,\n  b /* why */ from {{ ref('x') }} {# note #}\n"
    b = "select a, b from {{ ref('x') }}"
    assert normalised_code(a) == normalised_code(b)
    assert normalised_code("select '--not a comment' as c") == "select '--not a comment' as c"
    assert normalised_code("select a") != normalised_code("select b")


def test_config_fingerprint_excludes_cosmetic_and_separate_keys() -> None:
    base = {"materialized": "table"}
    same = {
        "materialized": "table",
        "tags": ["x"],
        "alias": "y",
        "freshness": {"build_after": {}},
        "state": {},
    }
    assert config_fingerprint(base) == config_fingerprint(same)
    assert config_fingerprint(base) != config_fingerprint({"materialized": "view"})


def test_run_results_and_fusion_reused(artifacts: Path) -> None:
    rr = read_run_results(artifacts / "run2" / "run_results.json")
    assert rr.command == "build" and rr.meta.schema_version == 6
    stg = next(r for r in rr.results if r.unique_id == "model.tiny.stg_orders")
    assert stg.status == "success" and stg.completed_at is not None and stg.completed_at.tzinfo is not None
    assert stg.completed_at.utcoffset() == UTC.utcoffset(None)
    fusion = read_run_results(artifacts / "fusion_reused" / "run_results.json")
    reused = {r.unique_id: r for r in fusion.results if r.status == "reused"}
    assert reused["model.tiny.customer_orders"].message == "No new changes on all upstreams"
    assert reused["model.tiny.stg_orders"].completed_at is None


def test_sources_both_shapes(artifacts: Path, tmp_path: Path) -> None:
    data = load(artifacts / "run1" / "sources.json")
    # dbt-core 1.11 drops errored sources; older writers keep this shape (spec sao.md S8).
    data["results"].append(
        {"unique_id": "source.tiny.raw.events_v", "error": "no loaded_at_field", "status": "runtime error"}
    )
    dump(tmp_path / "sources.json", data)
    s = read_sources(tmp_path / "sources.json")
    by_id = {r.unique_id: r for r in s.results}
    assert by_id["source.tiny.raw.orders"].max_loaded_at == datetime(2026, 1, 1, 11, tzinfo=UTC)
    err = by_id["source.tiny.raw.events_v"]
    assert err.max_loaded_at is None and err.status == "runtime error" and err.error == "no loaded_at_field"


def test_catalog_relation_types(artifacts: Path) -> None:
    c = read_catalog(artifacts / "run2" / "catalog.json")
    assert c.entries["model.tiny.stg_customers"].relation_type == "VIEW"
    assert c.entries["source.tiny.raw.events_v"].relation_type == "VIEW"
    assert c.entries["model.tiny.stg_orders"].relation_type == "BASE TABLE"


@pytest.mark.parametrize(
    ("name", "reader", "old_url", "expect"),
    [
        ("manifest.json", read_manifest, "https://schemas.getdbt.com/dbt/manifest/v11.json", "dbt-core 1.8"),
        ("run_results.json", read_run_results, "https://schemas.getdbt.com/dbt/run-results/v5.json", "v6"),
        ("sources.json", read_sources, "https://schemas.getdbt.com/dbt/sources/v4.json", "upgrade freshlens"),
    ],
)
def test_version_rejection_says_found_supported_and_what_to_do(
    artifacts: Path, tmp_path: Path, name: str, reader: object, old_url: str, expect: str
) -> None:
    data = load(artifacts / "run1" / name)
    data["metadata"]["dbt_schema_version"] = old_url
    dump(tmp_path / name, data)
    with pytest.raises(ArtifactError) as info:
        reader(tmp_path / name)  # type: ignore[operator]
    msg = str(info.value)
    found = old_url.rsplit("/", 1)[1].removesuffix(".json")
    assert f"schema version {found}" in msg and "freshlens reads v" in msg and expect in msg


def test_wrong_kind_of_artifact(artifacts: Path, tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_bytes((artifacts / "run1" / "sources.json").read_bytes())
    with pytest.raises(ArtifactError, match=r"`sources` artifact, not manifest\.json"):
        read_manifest(tmp_path / "manifest.json")


def test_corrupt_truncated_and_missing_files(artifacts: Path, tmp_path: Path) -> None:
    text = (artifacts / "run1" / "run_results.json").read_text()
    (tmp_path / "run_results.json").write_text(text[: len(text) // 2])
    with pytest.raises(ArtifactError, match=r"not valid JSON \(line \d+, column \d+\)"):
        read_run_results(tmp_path / "run_results.json")
    with pytest.raises(ArtifactError, match="not found"):
        read_manifest(tmp_path / "nope" / "manifest.json")
    (tmp_path / "sources.json").write_text("[1, 2]")
    with pytest.raises(ArtifactError, match="JSON object"):
        read_sources(tmp_path / "sources.json")
    data = load(artifacts / "run1" / "run_results.json")
    data["results"][0]["timing"][1]["completed_at"] = "yesterday"
    dump(tmp_path / "run_results.json", data)
    with pytest.raises(ArtifactError, match=r"results\[0\]\.timing\[1\]\.completed_at` is not an ISO-8601"):
        read_run_results(tmp_path / "run_results.json")


def test_the_quick_reading_of_freshness_results_agrees_with_the_full_one(tmp_path: Path) -> None:
    """Plans read sources.json results through a quick path; whatever it accepts must read exactly as
    the full, field-by-field reading does, and anything unusual must be left to the full reading."""
    from freshlens.state.artifacts import _freshness_results, _quick_freshness_result, _Reader

    usual = [
        {
            "unique_id": "source.p.raw.a",
            "max_loaded_at": "2026-12-01T10:00:00Z",
            "snapshotted_at": "2026-12-01T10:05:00.123456+00:00",
            "status": "pass",
            "error": None,
        },
        {
            "unique_id": "source.p.raw.b",
            "max_loaded_at": "2026-12-01T10:00:00",
            "snapshotted_at": None,
            "status": "Warn",
        },
        {"unique_id": "source.p.raw.c", "status": "runtime error", "error": "relation does not exist"},
    ]
    reader = _Reader(tmp_path / "sources.json", "sources.json")
    for raw in usual:
        quick = _quick_freshness_result(raw)
        full = _freshness_results(reader, {"results": [{**raw, "resource_type": "source"}]}, True)[0]
        assert quick == full
    odd = [
        "not an object",
        {"unique_id": 7, "status": "pass"},
        {"unique_id": "source.p.raw.a", "status": "fresh"},
        {"unique_id": "source.p.raw.a", "status": "pass", "max_loaded_at": 1700000000},
        {"unique_id": "source.p.raw.a", "status": "pass", "max_loaded_at": "yesterday"},
        {"unique_id": "model.p.m", "status": "pass"},
    ]
    assert [_quick_freshness_result(raw) for raw in odd] == [None] * len(odd)
