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
