"""Cases where a partial input still gives a certain answer, and where it must not."""

from __future__ import annotations

from pathlib import Path

from freshlens.planner.core import REUSE, UNKNOWN

from .helpers import NOW, Scenario, ago, expect

SOURCES = "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: t\n"


def test_sao_unknown_parent_inside_window_is_reuse_either_way(tmp_path: Path) -> None:
    """D9: with a 4h window not yet passed, new data or not, the model is reused."""
    sc = Scenario(
        tmp_path,
        {
            "models/sources.yml": SOURCES,
            "models/m.sql": "{{ config(materialized='table', freshness={'build_after': {'count': 4, 'period': 'hour'}}) }}\n"
            "select * from {{ source('raw', 't') }}",
        },
    )
    sc.built("m", ago(hours=1))  # what the build saw of raw.t is unknown
    sc.fresh("raw.t", ago(minutes=10))
    d = sc.decide("m")
    expect(d, REUSE, rule="SAO D9")
    assert d.eligible_at == ago(hours=1) + (NOW - ago(hours=4))
    # once the window has passed the same unknown makes the answer unknown again
    expect(sc.decide("m", at=ago(hours=-4)), UNKNOWN)


def test_state_dynamic_build_after_fallback_is_not_a_silent_default(tmp_path: Path) -> None:
    """dbt-state §2.2: a Jinja build_after cannot be read, so the tolerance is unknown (not 45m)."""
    sc = Scenario(
        tmp_path,
        {
            "models/sources.yml": SOURCES,
            "models/m.sql": "{{ config(materialized='table', state={'require_fresh_data_from': 'any'}, "
            "freshness={'build_after': {'count': var('n'), 'period': 'hour'}}) }}\n"
            "select * from {{ source('raw', 't') }}",
        },
    )
    sc.built("m", ago(hours=3), saw={"raw.t": ago(hours=4)})
    sc.fresh("raw.t", ago(hours=2))
    d = sc.decide("m", regime="dbt-state")
    expect(d, UNKNOWN)
    assert "dynamic" in d.short


def test_commented_out_select_star_does_not_make_a_view_rebuild(tmp_path: Path) -> None:
    """§5.1 is about the SQL dbt State parses: comments are not part of it."""
    sql = (
        "{{ config(materialized='view') }}\n-- was: select * from x\nselect id from {{ source('raw', 't') }}"
    )
    sc = Scenario(tmp_path, {"models/sources.yml": SOURCES, "models/v.sql": sql})
    sc.built("v", ago(hours=1), saw={"raw.t": ago(hours=2)})
    sc.fresh("raw.t", ago(hours=2))
    expect(sc.decide("v", regime="dbt-state"), REUSE, rule="STATE R18")


def test_edit_of_an_ephemeral_parent_is_a_code_change(tmp_path: Path) -> None:
    """An ephemeral model is inlined into its consumers (SAO D4/D17, dbt State R4/R14)."""
    import hashlib

    eph_sql = "{{ config(materialized='ephemeral') }}\nselect 1 as id"
    sc = Scenario(
        tmp_path,
        {
            "models/e.sql": eph_sql,
            "models/m.sql": "{{ config(materialized='table') }}\nselect * from {{ ref('e') }}",
        },
    )
    ns = sc.built("m", ago(hours=1))
    old = hashlib.sha256(eph_sql.strip().encode()).hexdigest()
    assert ns.fingerprint is not None
    sc.nodes[ns.unique_id] = ns._replace(
        fingerprint=ns.fingerprint._replace(ephemeral_code=(("model.p.e", old),))
    )
    expect(sc.decide("m", regime="dbt-state"), REUSE)
    (tmp_path / "models/e.sql").write_text(eph_sql.replace("1 as id", "2 as id"))
    sc2 = Scenario(tmp_path, {})
    sc2.nodes, sc2.freshness = sc.nodes, sc.freshness
    d = sc2.decide("m", regime="dbt-state")
    expect(d, "build", "query changed", "STATE R14")
    assert d.code_change == "ephemeral parent e"


def test_manifest_records_inlined_ephemeral_code() -> None:
    from freshlens.state.artifacts import ManifestNode, NodeFingerprint, Relation, _attach_ephemeral_code

    def node(uid: str, mat: str, deps: tuple[str, ...], code: str) -> ManifestNode:
        fp = NodeFingerprint(
            code, code, "", "", mat, Relation(None, None, None, None), deps, (), (), None, None
        )
        return ManifestNode(uid, "model", uid.split(".")[-1], "p", "", "sql", fp)

    nodes = {
        "model.p.e1": node("model.p.e1", "ephemeral", (), "h1"),
        "model.p.e2": node("model.p.e2", "ephemeral", ("model.p.e1",), "h2"),
        "model.p.m": node("model.p.m", "table", ("model.p.e2",), "hm"),
    }
    _attach_ephemeral_code(nodes)
    assert nodes["model.p.m"].fingerprint.ephemeral_code == (("model.p.e1", "h1"), ("model.p.e2", "h2"))
    from freshlens.state.reading import fingerprint_to_json, fingerprints_from_json

    fp = nodes["model.p.m"].fingerprint
    assert fingerprints_from_json([fingerprint_to_json(fp)]) == [fp]
