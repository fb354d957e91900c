"""Completion, go to definition, references, outline and inlay hints on a small real project."""

from __future__ import annotations

from pathlib import Path

import pytest

from freshlens.completion import complete, resolve_doc
from freshlens.index import ProjectIndex
from freshlens.navigation import definition, inlay_hints, references, symbols
from freshlens.workspace import Workspace

FILES = {
    "dbt_project.yml": (
        "name: demo\nversion: '1.0'\nprofile: demo\nmodels:\n  demo:\n    staging:\n"
        "      +freshness:\n        build_after: {count: 4, period: hour}\n"
    ),
    "models/staging/stg_orders.sql": "select * from {{ source('raw', 'orders') }}\n",
    "models/staging/stg_customers.sql": "select 1 as id\n",
    "models/orders.sql": (
        "{{ config(materialized='table') }}\n"
        "select * from {{ ref('stg_orders') }} join {{ ref('stg_customers') }} using (id)\n"
    ),
    "models/dim.sql": "select * from {{ ref('orders', v=2) }}\n",
    "models/orders_v2.sql": "select 2 as id\n",
    "models/schema.yml": (
        "version: 2\n"
        "models:\n"
        "  - name: stg_orders\n"
        "    config:\n"
        "      freshness:\n"
        "        build_after: {count: 1, period: day}\n"
        "    columns:\n"
        "      - name: id\n"
        "        data_type: int\n"
        "  - name: orders\n"
        "    latest_version: 1\n"
        "    versions:\n"
        "      - v: 1\n"
        "        defined_in: orders\n"
        "      - v: 2\n"
        "sources:\n"
        "  - name: raw\n"
        "    tables:\n"
        "      - name: orders\n"
        "      - name: customers\n"
    ),
    "dbt_packages/util/dbt_project.yml": "name: util\nversion: '1.0'\n",
    "dbt_packages/util/models/calendar.sql": "select 1 as d\n",
}


@pytest.fixture
def idx(tmp_path: Path) -> ProjectIndex:
    for rel, text in FILES.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    ws = Workspace([str(tmp_path)])
    ws.load()
    proj = next(iter(ws.projects.values()))
    assert proj.index is not None
    return proj.index


def _labels(idx: ProjectIndex, rel: str, text: str, marker: str = "|") -> list[str]:
    i = text.index(marker)
    text = text.replace(marker, "", 1)
    before = text[:i]
    line = before.count("\n")
    col = len(before) - (before.rfind("\n") + 1)
    res = complete(idx, str(Path(idx.dir) / rel), text, line, col)
    return [it.label for it in res.items]


def test_project_yaml_offers_plus_keys_folders_and_block_keys(idx: ProjectIndex) -> None:
    got = _labels(idx, "dbt_project.yml", "name: demo\nmodels:\n  demo:\n    |\n")
    assert got[:2] == ["+freshness", "+state"]
    assert "staging" in got and "+materialized" in got
    at_package = _labels(idx, "dbt_project.yml", "name: demo\nmodels:\n  |\n")
    assert "demo" in at_package and "util" in at_package
    ba = _labels(idx, "dbt_project.yml", "models:\n  demo:\n    +freshness:\n      build_after:\n        |\n")
    assert ba == ["count", "period", "updates_on"]
    state = _labels(idx, "dbt_project.yml", "models:\n  demo:\n    +state:\n      |\n")
    assert state[:2] == ["lag_tolerance", "require_fresh_data_from"]


def test_enum_values_and_lag_tolerance_snippets(idx: ProjectIndex) -> None:
    period = "models:\n  demo:\n    +freshness:\n      build_after:\n        period: h|\n"
    assert _labels(idx, "dbt_project.yml", period) == ["hour"]
    pre = _labels(
        idx, "models/schema.yml", "models:\n  - name: a\n    config:\n      state:\n        pre_clone: |\n"
    )
    assert pre == ["never", "if_missing", "always"]
    lag = complete(
        idx, str(Path(idx.dir) / "dbt_project.yml"), "models:\n  +state:\n    lag_tolerance: ", 2, 19
    )
    assert lag.items[0].label == "45m" and any(it.snippet for it in lag.items)


def test_properties_yaml_levels(idx: ProjectIndex) -> None:
    cfg = _labels(idx, "models/schema.yml", "models:\n  - name: a\n    config:\n      fr|\n")
    assert cfg[0] == "freshness" and "+freshness" not in cfg
    src = _labels(idx, "models/schema.yml", "sources:\n  - name: raw\n    freshness:\n      |\n")
    assert src[:2] == ["warn_after", "error_after"]
    entry = _labels(idx, "models/schema.yml", "models:\n  - name: a\n    |\n")
    assert entry[0] == "name" and "columns" in entry


def test_model_files_without_entry(idx: ProjectIndex) -> None:
    got = _labels(idx, "models/schema.yml", "version: 2\nmodels:\n  - name: |\n")
    assert "stg_customers" in got and "dim" in got
    assert "stg_orders" not in got  # already has an entry
    assert "calendar" not in got  # a package's model


def test_sql_ref_source_and_config(idx: ProjectIndex) -> None:
    refs = _labels(idx, "models/x.sql", "select * from {{ ref('stg|') }}")
    assert refs == ["stg_customers", "stg_orders"]
    pkg = _labels(idx, "models/x.sql", "select * from {{ ref('util', '|') }}")
    assert pkg == ["calendar"]
    first = _labels(idx, "models/x.sql", "{{ ref('|') }}")
    assert "util" in first and first.index("util") > first.index("orders")
    versions = _labels(idx, "models/x.sql", "{{ ref('orders', v=|) }}")
    assert versions == ["1", "2"]
    assert _labels(idx, "models/x.sql", "{{ source('|') }}") == ["raw"]
    assert _labels(idx, "models/x.sql", "{{ source('raw', '|') }}") == ["customers", "orders"]
    kw = _labels(idx, "models/x.sql", "{{ config(mat|) }}")
    assert kw[0] == "materialized"  # prefix matches first, then substring matches
    inner = complete(
        idx, str(Path(idx.dir) / "models/x.sql"), "{{ config(freshness={'build_after': {'", 0, 38
    )
    assert [it.label for it in inner.items] == ["count", "period", "updates_on"]
    assert inner.items[0].insert == "count"
    val = _labels(idx, "models/x.sql", "{{ config(freshness={'build_after': {'period': |")
    assert val == ["minute", "hour", "day"]
    assert _labels(idx, "models/x.sql", "{{ config(x=1) }} select |") == []


def test_resolve_adds_docs(idx: ProjectIndex) -> None:
    md = resolve_doc(idx, {"key": "lag_tolerance"})
    assert md is not None and "45m" in md
    model = resolve_doc(idx, {"uid": "model.demo.stg_orders"})
    assert model is not None and "stg_orders.sql" in model and "schema.yml:5" in model


def test_definition_and_references(idx: ProjectIndex) -> None:
    root = Path(idx.dir)
    orders = str(root / "models/orders.sql")
    line1 = FILES["models/orders.sql"].split("\n")[1]
    locs = definition(idx, orders, 1, line1.index("stg_orders") + 2)
    assert [(loc.path, loc.span.line) for loc in locs] == [(str(root / "models/staging/stg_orders.sql"), 0)]
    stg = str(root / "models/staging/stg_orders.sql")
    src = definition(idx, stg, 0, FILES["models/staging/stg_orders.sql"].index("orders'"))
    assert [(loc.path, loc.span.line) for loc in src] == [(str(root / "models/schema.yml"), 18)]
    # a versioned ref lands on the version's own file
    dim = definition(idx, str(root / "models/dim.sql"), 0, 25)
    assert [loc.path for loc in dim] == [str(root / "models/orders_v2.sql")]
    # YAML entry <-> SQL file
    schema = str(root / "models/schema.yml")
    assert [loc.path for loc in definition(idx, schema, 2, 12)] == [stg]
    assert [(loc.path, loc.span.line) for loc in definition(idx, stg, 0, 0)] == [(schema, 2)]
    # a config key -> where the effective value is set (the YAML config beats the project folder)
    eff = definition(idx, str(root / "dbt_project.yml"), 6, 8)
    assert (schema, 4) in [(loc.path, loc.span.line) for loc in eff]
    refs = references(idx, schema, 2, 12, include_declaration=False)
    assert [(loc.path, loc.span.line) for loc in refs] == [(orders, 1)]
    src_refs = references(idx, schema, 18, 15, include_declaration=True)
    assert [(loc.path, loc.span.line) for loc in src_refs] == [(schema, 18), (stg, 0)]


def test_symbols_outline(idx: ProjectIndex) -> None:
    props = idx.root.props[str(Path(idx.dir) / "models/schema.yml")]
    syms = symbols(props)
    assert [(s.name, s.kind) for s in syms] == [
        ("stg_orders", "model"),
        ("orders", "model"),
        ("raw", "source"),
    ]
    assert [(c.name, c.kind, c.detail) for c in syms[0].children] == [("id", "column", "int")]
    assert [c.name for c in syms[1].children] == ["v1", "v2"]
    assert [c.name for c in syms[2].children] == ["orders", "customers"]
    assert syms[0].selection.line == 2 and syms[0].span.end_line >= 8


def test_inlay_hints_name_the_window_and_its_origin(idx: ProjectIndex) -> None:
    root = Path(idx.dir)
    schema = str(root / "models/schema.yml")
    lines = FILES["models/schema.yml"].split("\n")
    hints = inlay_hints(idx, schema, "sao", lines, 0, len(lines))
    stg = next(h for h in hints if h.line == 2)
    assert stg.label == "⏱ 1day · models/schema.yml:5"
    sql = str(root / "models/staging/stg_customers.sql")
    (h,) = inlay_hints(idx, sql, "sao", ["select 1 as id"], 0, 0)
    assert h.label == "⏱ 4h · dbt_project.yml:7" and h.line == 0
    state = inlay_hints(idx, sql, "dbt-state", ["select 1 as id"], 0, 0)
    assert state[0].label.startswith("⏱ 4h")


def test_ref_completion_in_a_large_project_is_cut_ranked_and_incomplete(tmp_path: Path) -> None:
    """Inside ref('…') of a 1,000-model project: the names containing what is typed, those that start
    with it first, at most MAX_ITEMS of them and the list marked incomplete (the client asks again
    as the user types); a precise prefix gives the complete list."""
    from freshlens.completion import MAX_ITEMS

    files = {"dbt_project.yml": "name: big\nversion: '1.0'\nprofile: big\n"}
    for i in range(1000):
        files[f"models/m{i}.sql"] = "select 1"
    files["models/sub/x_m1.sql"] = "select 1"
    files["models/user.sql"] = "select * from {{ ref('m1') }}"
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    ws = Workspace([str(tmp_path)])
    ws.load()
    idx = next(iter(ws.projects.values())).index
    text = files["models/user.sql"]
    col = text.index("m1") + 1  # typed "m"
    got = complete(idx, str(tmp_path / "models/user.sql"), text, 0, col)
    assert got.incomplete and len(got.items) == MAX_ITEMS
    assert all(it.label.startswith("m") for it in got.items)
    col = text.index("m1") + 2  # typed "m1": m1, m10…m19, m100…m199 (111) start with it, x_m1 contains it
    got = complete(idx, str(tmp_path / "models/user.sql"), text, 0, col)
    labels = [it.label for it in got.items]
    assert not got.incomplete and len(labels) == 112
    assert labels[:2] == ["m1", "m10"] and labels[-1] == "x_m1"
    assert got.items[0].detail == "model · models/m1.sql"
