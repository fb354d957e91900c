"""``freshlens ls``: manifest.json's key names and shapes, dynamic values, --vars, and the parity helper."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from freshlens.cli import main
from freshlens.listing import list_index, parse_vars
from freshlens.parity import compare
from freshlens.workspace import Workspace

FILES = {
    "dbt_project.yml": (
        "name: p\nversion: '1.0'\nprofile: p\n"
        "models:\n  p:\n    +materialized: table\n    retired:\n      +enabled: false\n"
        "    maybe:\n      +enabled: \"{{ var('on') }}\"\n"
    ),
    "models/a.sql": "{{ config(freshness={'build_after': {'count': 2, 'period': 'hour'}}) }}\n"
    "select * from {{ source('raw', 'orders') }}\n",
    "models/b.sql": "{{ config(materialized='view') }}\nselect * from {{ ref('a') }} join {{ ref('s1') }}\n",
    "models/c.sql": "{% set n = var('which') %}\nselect * from {{ ref(n ~ '') }}\n",
    "models/retired/d.sql": "select 1\n",
    "models/maybe/e.sql": "select 1\n",
    "models/_src.yml": (
        "version: 2\nsources:\n  - name: raw\n    loaded_at_field: _at\n"
        "    freshness:\n      warn_after: {count: 1, period: hour}\n"
        "    tables:\n      - name: orders\n      - name: gone\n        config: {enabled: false}\n"
        '      - name: q\n        loaded_at_query: "select max(x) from {{ this }}"\n'
    ),
    "seeds/s1.csv": "id\n1\n",
}


def listing(root: Path, vars: dict[str, Any] | None = None) -> dict[str, Any]:
    ws = Workspace([str(root)], vars=vars)
    ws.load()
    idx = next(iter(ws.projects.values())).index
    assert idx is not None
    return list_index(idx, {p: v.text for p, v in ws.cache.items()})


def test_nodes_have_manifest_keys_and_shapes(project) -> None:  # type: ignore[no-untyped-def]
    doc = listing(project(FILES))
    assert doc["version"] == 1
    nodes = {n["unique_id"]: n for n in doc["nodes"]}
    assert set(nodes) == {f"model.p.{x}" for x in "abcde"} | {"seed.p.s1"}
    a = nodes["model.p.a"]
    assert a["resource_type"] == "model" and a["package_name"] == "p"
    assert a["original_file_path"] == "models/a.sql"
    assert a["depends_on"] == {"nodes": ["source.p.raw.orders"]}
    # dbt stores build_after with updates_on filled in
    assert a["config"]["freshness"] == {"build_after": {"count": 2, "period": "hour", "updates_on": "any"}}
    assert a["config"]["materialized"] == "table" and a["config"]["enabled"] is True
    b = nodes["model.p.b"]
    assert b["config"]["materialized"] == "view"
    assert b["depends_on"]["nodes"] == ["model.p.a", "seed.p.s1"]
    assert b["config"]["freshness"] is None
    assert nodes["seed.p.s1"]["config"]["materialized"] == "seed"


def test_disabled_dynamic_and_unresolved_are_said_not_guessed(project) -> None:  # type: ignore[no-untyped-def]
    nodes = {n["unique_id"]: n for n in listing(project(FILES))["nodes"]}
    assert nodes["model.p.d"]["enabled"] is False and nodes["model.p.d"]["config"]["enabled"] is False
    assert nodes["model.p.e"]["enabled"] == {"dynamic": "{{ var('on') }}"}  # no value, no default
    c = nodes["model.p.c"]
    assert c["depends_on"]["nodes"] == []
    assert c["freshlens"]["unresolved"] == [{"dynamic": "ref(n ~ '')", "line": 2, "reason": "computed"}]
    assert nodes["model.p.a"]["freshlens"]["unresolved"] == []


def test_sources_have_manifest_shapes(project) -> None:  # type: ignore[no-untyped-def]
    srcs = {s["unique_id"]: s for s in listing(project(FILES))["sources"]}
    o = srcs["source.p.raw.orders"]
    assert o["loaded_at_field"] == "_at" and o["loaded_at_query"] is None and o["enabled"] is True
    assert o["freshness"] == {
        "warn_after": {"count": 1, "period": "hour"},
        "error_after": {"count": None, "period": None},
        "filter": None,
    }
    assert srcs["source.p.raw.gone"]["enabled"] is False
    # loaded_at_query is kept as written, as in manifest.json
    assert srcs["source.p.raw.q"]["loaded_at_query"] == "select max(x) from {{ this }}"


def test_vars_reach_the_index(project) -> None:  # type: ignore[no-untyped-def]
    ws = Workspace([str(project(FILES))], vars={"on": True})
    ws.load()
    idx = next(iter(ws.projects.values())).index
    assert idx is not None and idx.vars == {"on": True}


def test_parse_vars_like_dbt() -> None:
    assert parse_vars("{a: 1, b: [x, y]}") == {"a": 1, "b": ["x", "y"]}
    assert parse_vars('{"a": true}') == {"a": True}
    assert parse_vars("") == {}
    with pytest.raises(ValueError, match="mapping"):
        parse_vars("[1, 2]")
    with pytest.raises(ValueError, match="not valid YAML"):
        parse_vars("{a: [")


def test_cli_ls_json_text_files_and_errors(project, capsys) -> None:  # type: ignore[no-untyped-def]
    root = project(FILES)
    assert main(["ls", str(root), "--format", "json", "--vars", "{on: true}"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["nodes"]) == 6 and len(doc["sources"]) == 3
    assert main(["ls", str(root / "models" / "b.sql"), "--format", "json"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert [n["unique_id"] for n in one["nodes"]] == ["model.p.b"] and one["sources"] == []
    assert main(["ls", str(root)]) == 0
    cap = capsys.readouterr()
    assert "model.p.b  [view]  <- model.p.a, seed.p.s1" in cap.out
    assert "model.p.d  [table]  disabled" in cap.out
    assert "unresolved (computed) line 2: ref(n ~ '')" in cap.out
    assert "6 node(s) (1 disabled, 1 with unresolved refs), 3 source table(s)" in cap.err
    assert main(["ls", str(root), "--vars", "[1]"]) == 2
    assert "--vars must be a YAML mapping" in capsys.readouterr().err
    assert main(["ls", str(root / "nope")]) == 2
    assert main(["ls", str(root / "models" / "retired")]) == 2  # no project at or below


def manifest_of(doc: dict[str, Any]) -> dict[str, Any]:
    """A manifest.json-shaped document with the same content as a listing (dbt's layout)."""
    nodes = {n["unique_id"]: n for n in doc["nodes"] if n["enabled"] is not False}
    disabled = {n["unique_id"]: [n] for n in doc["nodes"] if n["enabled"] is False}
    return {"nodes": nodes, "disabled": disabled, "sources": {s["unique_id"]: s for s in doc["sources"]}}


def test_parity_counts_edges_flags_and_disagreements(project) -> None:  # type: ignore[no-untyped-def]
    doc = listing(project(FILES))
    man = manifest_of(json.loads(json.dumps(doc)))
    man["nodes"]["model.p.e"] = {**man["nodes"]["model.p.e"], "enabled": True, "config": {"enabled": True}}
    man["nodes"]["model.p.c"]["depends_on"] = {"nodes": ["model.p.a"]}  # dbt rendered ref(n ~ '')
    man["nodes"]["model.p.b"]["depends_on"] = {"nodes": ["model.p.a", "seed.p.s1", "model.p.d", "macro.x"]}
    man["nodes"]["model.p.f"] = {"unique_id": "model.p.f", "resource_type": "model", "config": {}}
    del man["sources"]["source.p.raw.q"]
    res = compare(man, doc)
    assert res.nodes_expected == 7 and res.nodes_missing == ["model.p.f"]
    assert res.edges_expected == 5  # macro.* is not an edge
    assert res.edges_found == 3 and res.edges_flagged == 1  # c's missing edge was flagged, b's not
    assert sorted(res.missing_edges) == [("model.p.b", "model.p.d"), ("model.p.c", "model.p.a")]
    assert res.parent_sets.equal == 3 and res.parent_sets.compared == 5
    assert res.enabled.unknown == 1 and res.enabled.equal == 5
    assert res.sources_extra == ["source.p.raw.q"]
    assert not res.exact
    assert res.summary()[1].startswith("edges: 3/5 found (60.0%), 2 missing of which 1 flagged")
    assert compare(manifest_of(doc), doc).exact
