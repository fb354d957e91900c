"""Quick fixes: applying the edit removes the finding it fixes (the edit is checked by re-running the rules)."""

from __future__ import annotations

from pathlib import Path

import pytest

from freshlens.lsp.actions import quick_fix
from freshlens.model import Span
from freshlens.workspace import Workspace

PROJECT = "name: p\nversion: '1.0'\nprofile: p\nmodels:\n  p:\n    +freshness:\n      build_after: {count: 4, period: hour}\n"


def apply(text: str, edits: tuple) -> str:  # type: ignore[type-arg]
    lines = text.split("\n")
    offsets = [0]
    for ln in lines:
        offsets.append(offsets[-1] + len(ln) + 1)

    def off(line: int, col: int) -> int:
        return offsets[line] + col if line < len(lines) else len(text)

    for e in sorted(edits, key=lambda e: (e.span.line, e.span.col), reverse=True):
        a, b = off(e.span.line, e.span.col), off(e.span.end_line, e.span.end_col)
        text = text[:a] + e.new_text + text[b:]
    return text


def run(tmp_path: Path, files: dict[str, str], target: str, code: str) -> tuple[str, list[str]]:
    for rel, t in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(t)
    ws = Workspace([str(tmp_path)])
    ws.load()
    path = str(tmp_path / target)
    f = next(x for x in ws.all_findings() if x.code == code and x.loc.path == path)
    data = dict(f.data)
    text = files[target]
    qf = quick_fix(data["fix"], code, f.loc.span, text.split("\n"), target.endswith(".sql"), data)
    assert qf is not None
    new = apply(text, qf.edits)
    ws.update_file(path, new)
    return new, [x.code for x in ws.all_findings() if x.loc.path == path]


@pytest.mark.parametrize(
    ("files", "target", "code"),
    [
        (
            {
                "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\nmodels:\n  p:\n    freshness:\n      build_after: {count: 4, period: hour}\n",
                "models/m.sql": "select 1",
            },
            "dbt_project.yml",
            "FL108",
        ),
        (
            {
                "dbt_project.yml": PROJECT,
                "models/m.sql": "select 1",
                "models/s.yml": "version: 2\nmodels:\n  - name: m\n    config:\n      freshness: null\n",
            },
            "models/s.yml",
            "FL110",
        ),
        (
            {"dbt_project.yml": PROJECT, "models/m.sql": "{{ config(freshness=none) }}\nselect 1"},
            "models/m.sql",
            "FL110",
        ),
        (
            {
                "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\n",
                "models/m.sql": "select 1",
                "models/s.yml": "version: 2\nmodels:\n  - name: m\n    description: x\n    freshness:\n      build_after: {count: 1, period: day}\n",
            },
            "models/s.yml",
            "FL109",
        ),
        (
            {
                "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\n",
                "models/m.sql": "select 1",
                "models/s.yml": "version: 2\nmodels:\n  - name: m\n    config:\n      materialized: table\n    freshness:\n      build_after: {count: 1, period: day}\n",
            },
            "models/s.yml",
            "FL109",
        ),
        (
            {
                "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\n",
                "models/m.sql": "select 1",
                "models/s.yml": "version: 2\nmodels:\n  - name: m\n    config:\n      freshness:\n        build_after: {count: 4}\n",
            },
            "models/s.yml",
            "FL101",
        ),
        (
            {
                "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\n",
                "models/m.sql": "select 1",
                "models/s.yml": "version: 2\nmodels:\n  - name: m\n    config:\n      freshness:\n        build_after:\n          period: day\n    description: x\n",
            },
            "models/s.yml",
            "FL101",
        ),
        (
            {
                "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\n",
                "models/m.sql": "{{ config(freshness={'build_after': {'count': 2}}) }}\nselect 1",
            },
            "models/m.sql",
            "FL101",
        ),
        (
            {
                "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\n",
                "models/src.yml": "version: 2\nsources:\n  - name: s\n    tables:\n      - name: t\n        loaded_at_field: a\n        loaded_at_query: select 1\n",
            },
            "models/src.yml",
            "FL120",
        ),
        (
            {
                "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\n",
                "models/m.sql": "{{ config(materialized='table', state={'execute_hooks_on_reuse': true}, post_hook='select 1') }}\nselect 1",
            },
            "models/m.sql",
            "FL204",
        ),
        (
            {
                "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\n",
                "models/m.sql": "select 1",
                "models/s.yml": "version: 2\nmodels:\n  - name: m\n    config:\n      materialized: table\n      freshness:\n        warn_after: {count: 24}\n",
            },
            "models/s.yml",
            "FL301",
        ),
        (
            {
                "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\n",
                "models/m.sql": "select 1",
                "models/s.yml": "version: 2\nmodels:\n  - name: m\n    config:\n      materialized: table\n      freshness:\n        error_after:\n          period: day\n    description: x\n",
            },
            "models/s.yml",
            "FL301",
        ),
        (
            {
                "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\n",
                "models/m.sql": "{{ config(materialized='table', freshness={'warn_after': {'count': 2}}) }}\nselect 1",
            },
            "models/m.sql",
            "FL301",
        ),
        (
            {
                "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\n",
                "models/m.sql": "select 1",
                "models/s.yml": "version: 2\nmodels:\n  - name: m\n    config:\n      freshness:\n        warn_after: {count: 1, period: day}\n        loaded_at_field: a\n        loaded_at_query: select 1\n",
            },
            "models/s.yml",
            "FL302",
        ),
        (
            {
                "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\n",
                "models/m.sql": "select 1",
                "models/s.yml": "version: 2\nmodels:\n  - name: m\n    config:\n      tags: [x]\n      freshness:\n        warn_after: {count: 1, period: day}\n",
            },
            "models/s.yml",
            "FL305",
        ),
        (
            {
                "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\n",
                "models/m.sql": "{{ config(freshness={'error_after': {'count': 2, 'period': 'day'}}) }}\nselect 1",
            },
            "models/m.sql",
            "FL305",
        ),
        (
            {
                "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\nmodels:\n  p:\n    +materialized: table\n    +freshness:\n      warn_after: {count: 1, period: day}\n",
                "models/m.sql": "{{ config(freshness=none) }}\nselect 1",
            },
            "models/m.sql",
            "FL310",
        ),
        (
            {
                "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\nmodels:\n  p:\n    +materialized: table\n    +freshness:\n      warn_after: {count: 1, period: day}\n",
                "models/m.sql": "select 1",
                "models/s.yml": "version: 2\nmodels:\n  - name: m\n    config:\n      freshness: null\n",
            },
            "models/s.yml",
            "FL310",
        ),
        (
            {
                "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\n",
                "profiles.yml": "p:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: p.duckdb\n",
                "models/m.sql": "select 1",
                "models/s.yml": "version: 2\nmodels:\n  - name: m\n    config:\n      materialized: table\n      freshness:\n        warn_after: {count: 1, period: day}\n",
            },
            "models/s.yml",
            "FL312",
        ),
        (
            {
                "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\n",
                "models/m.sql": "select 1",
                "models/s.yml": "version: 2\nmodels:\n  - name: m\n    loaded_at_field: updated_at\n    config:\n      materialized: table\n      freshness:\n        warn_after: {count: 1, period: day}\n",
            },
            "models/s.yml",
            "FL307",
        ),
    ],
)
def test_fix_removes_the_finding(tmp_path: Path, files: dict[str, str], target: str, code: str) -> None:
    new, remaining = run(tmp_path, files, target, code)
    assert code not in remaining, new
    assert "FL001" not in remaining and "FL002" not in remaining, new


def test_drop_loaded_at_refuses_flow_style() -> None:
    assert (
        quick_fix(
            "drop_loaded_at",
            "FL120",
            Span(0, 20, 0, 35),
            ["- {name: t, loaded_at_field: a, loaded_at_query: b}"],
            False,
        )
        is None
    )


def test_add_loaded_at_field_inserts_a_visible_placeholder_and_refuses_duplicates() -> None:
    lines = ["    config:", "      freshness:", "        warn_after: {count: 1, period: day}"]
    qf = quick_fix("add_loaded_at_field", "FL305", Span(1, 6, 1, 15), lines, False)
    assert qf is not None and qf.edits[0].new_text == '      loaded_at_field: "<timestamp_column>"\n'
    empty = ["    config:", '      loaded_at_field: ""', "      freshness:", "        warn_after: {}"]
    assert quick_fix("add_loaded_at_field", "FL305", Span(2, 6, 2, 15), empty, False) is None
    flow = ["    config: {freshness: {warn_after: {count: 1, period: day}}}"]
    assert quick_fix("add_loaded_at_field", "FL305", Span(0, 13, 0, 22), flow, False) is None


@pytest.mark.parametrize(
    ("count", "period", "updates_on", "want"),
    [
        (4, "hour", "any", "{lag_tolerance: 4h}"),
        (1, "day", "all", "{lag_tolerance: 1d, require_fresh_data_from: all}"),
        (0, "minute", "any", "{lag_tolerance: 0s}"),
    ],
)
def test_state_equivalent_of_build_after(count: int, period: str, updates_on: str, want: str) -> None:
    """dbt-state.md §7.1 / D19: count+period -> lag_tolerance, updates_on -> require_fresh_data_from."""
    from freshlens.lsp.actions import state_equivalent

    assert state_equivalent(count, period, updates_on) == want


def test_adding_the_state_equivalent_keeps_the_file_valid_and_equivalent(tmp_path: Path) -> None:
    from freshlens.lsp.actions import add_state_block

    text = (
        "version: 2\nmodels:\n  - name: m\n    config:\n      freshness:\n        build_after:\n"
        "          count: 4\n          period: hour\n          updates_on: all\n      materialized: table\n"
    )
    files = {
        "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\n",
        "models/m.sql": "select 1",
        "models/s.yml": text,
    }
    for rel, t in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(t)
    fix = add_state_block(
        Span(4, 6, 4, 15), text.split("\n"), "state", "{lag_tolerance: 4h, require_fresh_data_from: all}"
    )
    assert fix is not None
    new = apply(text, fix.edits)
    ws = Workspace([str(tmp_path)])
    ws.load()
    ws.update_file(str(tmp_path / "models/s.yml"), new)
    idx = next(iter(ws.projects.values())).index
    assert idx is not None
    m = idx.nodes["model.p.m"]
    assert m.eff("state").value == {"lag_tolerance": "4h", "require_fresh_data_from": "all"}
    assert m.materialized == "table"
    assert [f.code for f in ws.all_findings() if f.severity == 1] == []
    # once there, it is not offered again
    assert add_state_block(Span(4, 6, 4, 15), new.split("\n"), "state", "{lag_tolerance: 4h}") is None
