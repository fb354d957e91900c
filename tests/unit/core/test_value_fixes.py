"""Value quick fixes and "fix all of this kind": each edit is checked by re-running the rules on the edited text."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.unit.core.test_quick_fixes import apply

from freshlens.lsp.actions import fix_all, quick_fix
from freshlens.model import Span
from freshlens.workspace import Workspace

PROJECT = "name: p\nversion: '1.0'\nprofile: p\n"


def _fixed(tmp_path: Path, rel: str, text: str, code: str) -> tuple[list[str], str, list[str]]:
    (tmp_path / "dbt_project.yml").write_text(PROJECT)
    p = tmp_path / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    if rel.endswith(".yml"):
        (tmp_path / "models/m.sql").write_text("select 1")
    ws = Workspace([str(tmp_path)])
    ws.load()
    found = [f for f in ws.all_findings() if f.code == code and f.loc.path == str(p)]
    assert found, f"no {code} in {text!r}"
    fixes = [quick_fix("", code, f.loc.span, text.split("\n"), rel.endswith(".sql")) for f in found]
    got = [f for f in fixes if f is not None]
    assert len(got) == len(found)
    combined = fix_all(got) if len(got) > 1 else got[0]
    assert combined is not None
    new = apply(text, combined.edits)
    ws.update_file(str(p), new)
    return [f.title for f in got], new, [f.code for f in ws.all_findings() if f.loc.path == str(p)]


@pytest.mark.parametrize(
    ("rel", "text", "code", "want"),
    [
        (
            "models/m.sql",
            "{{ config(freshness={'build_after': {'count': 4, 'period': 'Hours'}}) }}\nselect 1",
            "FL102",
            "'hour'",
        ),
        (
            "models/m.sql",
            "{{ config(freshness={'build_after': {'count': '4', 'period': 'hour'}}) }}\nselect 1",
            "FL104",
            "'count': 4,",
        ),
        (
            "models/s.yml",
            "version: 2\nmodels:\n  - name: m\n    config:\n      freshness:\n        build_after: {count: 4, period: hour, updates_on: ALL}\n",
            "FL103",
            "updates_on: all}",
        ),
        (
            "models/s.yml",
            "version: 2\nmodels:\n  - name: m\n    config:\n      state:\n        lag_tolerance: 4H\n        pre_clone: if_table_missing\n        require_fresh_data_from: Any\n        evaluate_volatile_sql: 'yes'\n",
            "FL206",
            "lag_tolerance: 4h",
        ),
        (
            "models/s.yml",
            "version: 2\nmodels:\n  - name: m\n    config:\n      state:\n        pre_clone: if_table_missing\n",
            "FL210",
            "pre_clone: if_missing",
        ),
        (
            "models/s.yml",
            "version: 2\nmodels:\n  - name: m\n    config:\n      state:\n        evaluate_volatile_sql: 'yes'\n",
            "FL211",
            "evaluate_volatile_sql: true",
        ),
        (
            "models/s.yml",
            "version: 2\nsources:\n  - name: s\n    freshness:\n      warn_after: {count: 1.0, period: Days}\n      error_after: {count: 2, period: weeks}\n    tables:\n      - name: t\n",
            "FL131",
            "warn_after: {count: 1,",
        ),
    ],
)
def test_value_fix_removes_the_finding(tmp_path: Path, rel: str, text: str, code: str, want: str) -> None:
    _titles, new, left = _fixed(tmp_path, rel, text, code)
    assert want in new
    assert code not in left


def test_fix_all_of_a_kind_in_one_file(tmp_path: Path) -> None:
    text = (
        "version: 2\nmodels:\n  - name: m\n    config:\n      freshness:\n"
        "        build_after: {count: 4, period: Hour}\n"
        "  - name: n\n    config:\n      freshness:\n        build_after: {count: 1, period: DAY}\n"
    )
    (tmp_path / "models").mkdir()
    (tmp_path / "models/n.sql").write_text("select 1")
    titles, new, left = _fixed(tmp_path, "models/s.yml", text, "FL102")
    assert titles == ["Change to hour", "Change to day"]
    assert "FL102" not in left and "period: hour}" in new and "period: day}" in new


def test_ambiguous_values_get_no_fix() -> None:
    assert quick_fix("", "FL102", Span(0, 6, 0, 10), ["x: a, week"], False) is None
    assert quick_fix("", "FL104", Span(0, 0, 0, 3), ["4.5"], False) is None
    assert quick_fix("", "FL206", Span(0, 0, 0, 2), ["1M"], False) is None  # month or minute: ask the user
    overlapping = quick_fix("", "FL102", Span(0, 0, 0, 4), ["Hour"], False)
    assert overlapping is not None and fix_all([overlapping, overlapping]) is None
