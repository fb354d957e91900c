"""Effective configs with provenance: precedence and merge rules as dbt really behaves.

Cases follow spec/sao.md §5 (P1–P5), S5 and spec/dbt-core-oracle.md §3.2–3.3 (measured on dbt-core).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from freshlens.index import ProjectIndex
from freshlens.workspace import Workspace

PROJECT_4H_ALL = (
    "name: p\nversion: '1.0'\nprofile: p\nmodels:\n  p:\n    +freshness:\n"
    "      build_after: {count: 4, period: hour, updates_on: all}\n"
)


def index(tmp_path: Path, files: dict[str, str]) -> ProjectIndex:
    for rel, text in files.items():
        f = tmp_path / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    ws = Workspace([str(tmp_path)])
    ws.load()
    idx = next(iter(ws.projects.values())).index
    assert idx is not None
    return idx


def fresh(idx: ProjectIndex, name: str = "m") -> Any:
    return idx.nodes[f"model.p.{name}"].eff("freshness")


def test_p2_yaml_replaces_project_value_whole(tmp_path: Path) -> None:
    """P2: project {4 hour all} + YAML {1 day} -> {1 day, updates_on any}: no key merge."""
    idx = index(
        tmp_path,
        {
            "dbt_project.yml": PROJECT_4H_ALL,
            "models/m.sql": "select 1",
            "models/s.yml": "version: 2\nmodels:\n  - name: m\n    config:\n      freshness:\n        build_after: {count: 1, period: day}\n",
        },
    )
    eff = fresh(idx)
    assert eff.value == {"build_after": {"count": 1, "period": "day"}}
    assert eff.setting.layer == "properties" and eff.setting.key_node.span.line == 4
    assert [s.layer for s in eff.replaced] == ["dbt_project.yml"]


def test_p3_sql_beats_yaml(tmp_path: Path) -> None:
    idx = index(
        tmp_path,
        {
            "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\n",
            "models/m.sql": "{{ config(freshness={'build_after': {'count': 1, 'period': 'day'}}) }}\nselect 1",
            "models/s.yml": "version: 2\nmodels:\n  - name: m\n    config:\n      freshness:\n        build_after: {count: 4, period: hour, updates_on: all}\n",
        },
    )
    eff = fresh(idx)
    assert eff.value == {"build_after": {"count": 1, "period": "day"}}
    assert eff.setting.layer == "sql"


def test_p4_yaml_null_keeps_project_value(tmp_path: Path) -> None:
    """P4 / oracle 3.2.4: a model-level null does not clear +freshness from dbt_project.yml."""
    idx = index(
        tmp_path,
        {
            "dbt_project.yml": PROJECT_4H_ALL,
            "models/m.sql": "select 1",
            "models/s.yml": "version: 2\nmodels:\n  - name: m\n    config:\n      freshness: null\n",
        },
    )
    eff = fresh(idx)
    assert eff.value["build_after"]["count"] == 4
    assert eff.setting.layer == "dbt_project.yml"
    assert [s.layer for s in eff.ignored] == ["properties"]


def test_p4_sql_null_falls_back_to_project_not_yaml(tmp_path: Path) -> None:
    """oracle 3.2.4: project + YAML {8 hour} + SQL none -> the project value."""
    idx = index(
        tmp_path,
        {
            "dbt_project.yml": PROJECT_4H_ALL,
            "models/m.sql": "{{ config(freshness=none) }}\nselect 1",
            "models/s.yml": "version: 2\nmodels:\n  - name: m\n    config:\n      freshness:\n        build_after: {count: 8, period: hour}\n",
        },
    )
    assert fresh(idx).value["build_after"] == {"count": 4, "period": "hour", "updates_on": "all"}


def test_p4_sql_null_clears_yaml_without_project_value(tmp_path: Path) -> None:
    """oracle 3.2.4: no project value, YAML {8 hour} + SQL none -> null."""
    idx = index(
        tmp_path,
        {
            "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\n",
            "models/m.sql": "{{ config(freshness=none) }}\nselect 1",
            "models/s.yml": "version: 2\nmodels:\n  - name: m\n    config:\n      freshness:\n        build_after: {count: 8, period: hour}\n",
        },
    )
    assert fresh(idx).value is None


def test_p4_folder_null_clears(tmp_path: Path) -> None:
    idx = index(
        tmp_path,
        {
            "dbt_project.yml": PROJECT_4H_ALL + "    sub:\n      +freshness: null\n",
            "models/sub/m.sql": "select 1",
            "models/other.sql": "select 1",
        },
    )
    assert fresh(idx).value is None
    assert fresh(idx, "other").value["build_after"]["count"] == 4


def test_value_without_build_after_is_dropped(tmp_path: Path) -> None:
    """oracle 3.2.3: {warn_after: ...} at a lower level leaves the inherited value in place."""
    idx = index(
        tmp_path,
        {
            "dbt_project.yml": PROJECT_4H_ALL,
            "models/m.sql": "select 1",
            "models/s.yml": "version: 2\nmodels:\n  - name: m\n    config:\n      freshness:\n        warn_after: {count: 1, period: hour}\n",
        },
    )
    assert fresh(idx).value["build_after"]["count"] == 4


def test_project_folder_levels_and_bare_keys(tmp_path: Path) -> None:
    idx = index(
        tmp_path,
        {
            "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\nmodels:\n  p:\n    materialized: table\n"
            "    marts:\n      +materialized: incremental\n",
            "models/marts/m.sql": "select 1",
            "models/a.sql": "select 1",
        },
    )
    assert idx.nodes["model.p.m"].materialized == "incremental"
    assert idx.nodes["model.p.a"].materialized == "table"


def test_state_whole_block_replacement(tmp_path: Path) -> None:
    """dbt-state V12: a model state block replaces the project's as a whole."""
    idx = index(
        tmp_path,
        {
            "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\nmodels:\n  p:\n    +state: {lag_tolerance: 4h}\n",
            "models/m.sql": "{{ config(state={'require_fresh_data_from': 'all'}) }}\nselect 1",
        },
    )
    assert idx.nodes["model.p.m"].eff("state").value == {"require_fresh_data_from": "all"}


def test_source_freshness_per_key_merge_and_loaded_at(tmp_path: Path) -> None:
    """S5 / oracle 3.3: per-threshold merge source -> table; partial table rule ignored; closest loaded_at wins."""
    idx = index(
        tmp_path,
        {
            "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\n",
            "models/src.yml": (
                "version: 2\nsources:\n  - name: s\n    loaded_at_field: _loaded\n"
                "    freshness:\n      warn_after: {count: 1, period: hour}\n      error_after: {count: 1, period: day}\n"
                "    tables:\n"
                "      - name: a\n        freshness:\n          warn_after: {count: 30, period: minute}\n"
                "      - name: b\n        freshness:\n          warn_after: {count: 3}\n"
                "      - name: c\n        freshness: null\n"
                "      - name: d\n        loaded_at_query: select 1\n"
            ),
        },
    )
    a, b, c, d = (idx.sources[f"source.p.s.{t}"] for t in "abcd")
    assert (a.freshness.warn_after.count, a.freshness.warn_after.period) == (30, "minute")
    assert (a.freshness.error_after.count, a.freshness.error_after.period) == (1, "day")
    assert (b.freshness.warn_after.count, b.freshness.warn_after.period) == (1, "hour")
    assert not c.freshness.active
    assert a.loaded_at_method == "loaded_at_field"
    assert d.loaded_at_method == "loaded_at_query"


def test_refs_resolve_across_versions_packages_and_dag_order(tmp_path: Path) -> None:
    idx = index(
        tmp_path,
        {
            "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\n",
            "models/dim.sql": "select 1",
            "models/dim_v2.sql": "select 2",
            "models/v.yml": "version: 2\nmodels:\n  - name: dim\n    latest_version: 2\n    versions:\n      - v: 1\n        defined_in: dim\n      - v: 2\n",
            "models/a.sql": "select * from {{ ref('dim') }} join {{ ref('pk', 'util') }}",
            "models/b.sql": "select * from {{ ref('a') }} join {{ ref('dim', v=1) }}",
            "dbt_packages/pk/dbt_project.yml": "name: pk\nversion: '1.0'\n",
            "dbt_packages/pk/models/util.sql": "select 1",
        },
    )
    assert idx.nodes["model.p.a"].parents == ["model.p.dim.v2", "model.pk.util"]
    assert idx.nodes["model.p.b"].parents == ["model.p.a", "model.p.dim.v1"]
    order = idx.topo_order()
    assert order.index("model.p.a") < order.index("model.p.b")
    assert order.index("model.p.dim.v2") < order.index("model.p.a")
    assert idx.unresolved == []


def test_model_paths_outside_the_project_shared_by_two_projects(tmp_path: Path) -> None:
    files = {
        "shared/m.sql": "select 1",
        "one/dbt_project.yml": "name: one\nversion: '1.0'\nprofile: p\nmodel-paths: ['../shared']\n",
        "two/dbt_project.yml": "name: two\nversion: '1.0'\nprofile: p\nmodel-paths: ['../shared', 'models']\n",
        "two/models/x.sql": "select * from {{ ref('m') }}",
    }
    for rel, text in files.items():
        f = tmp_path / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    ws = Workspace([str(tmp_path)])
    ws.load()
    names = {p.index.name: sorted(p.index.nodes) for p in ws.projects.values() if p.index}
    assert names == {"one": ["model.one.m"], "two": ["model.two.m", "model.two.x"]}


def test_real_world_constructs(tmp_path: Path) -> None:
    """.dbtignore, a multi-line Jinja `database`, trailing tabs, positional config dict, package macros."""
    idx = index(
        tmp_path,
        {
            "dbt_project.yml": "name: p\nversion: '1.0'\t\nprofile: p\n",
            ".dbtignore": "models/scratch/\n*.tmp.sql\n",
            "models/scratch/wip.sql": "select * from {{ ref('nope') }}",
            "models/x.tmp.sql": "select * from {{ ref('nope') }}",
            "models/m.sql": "{{ config({'materialized': 'table', 'freshness': {'build_after': {'count': 2, 'period': 'hour'}}}) }}\n"
            "{{ config(schema=my_pkg.schema_for('m')) }}\nselect * from {{ source('s', 't') }}",
            "models/src.yml": (
                "version: 2\nsources:\n  - name: s\n    database: |\n      {%- if target.name == 'prod' -%} raw\n"
                "      {%- else -%} raw_dev {%- endif -%}\n    tables:\n      - name: t\n"
            ),
        },
    )
    assert sorted(idx.nodes) == ["model.p.m"]
    m = idx.nodes["model.p.m"]
    assert m.materialized == "table"
    assert m.eff("freshness").value == {"build_after": {"count": 2, "period": "hour"}}
    assert type(m.eff("schema").value).__name__ == "Dynamic"
    st = idx.sources["source.p.s.t"]
    assert type(st.database).__name__ == "Dynamic"
    assert m.parents == ["source.p.s.t"] and idx.unresolved == []
