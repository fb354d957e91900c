"""Data-driven rule cases: every tests/fixtures/rules/FLxxx.yml, each case a tiny project.

A case lists the findings of its file's code that must appear (1-based, end exclusive); `expect: []`
means that code must not be reported. `approx: true` checks file and line only.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from freshlens.rules.codes import CODES
from freshlens.workspace import Workspace

CASES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "rules"


def _cases() -> list[Any]:
    out = []
    for f in sorted(CASES_DIR.glob("FL*.yml")):
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
        for i, case in enumerate(data.get("cases") or []):
            out.append(pytest.param(data["code"], case, id=f"{data['code']}-{i}-{case.get('name', '')[:40]}"))
    return out


def test_every_code_has_cases() -> None:
    have = {f.stem for f in CASES_DIR.glob("FL*.yml")}
    assert set(CODES) <= have, f"codes without case files: {sorted(set(CODES) - have)}"


@pytest.mark.parametrize(("code", "case"), _cases())
def test_rule_case(code: str, case: dict[str, Any], tmp_path: Path) -> None:
    for rel, text in (case.get("files") or {}).items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    for rel, b64 in (case.get("files_b64") or {}).items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(base64.b64decode(b64))
    ws = Workspace([str(tmp_path)])
    ws.load()
    got = [f for f in ws.all_findings() if f.code == code]
    expect = case.get("expect") or []
    got_keys = sorted(
        (
            str(Path(f.loc.path).relative_to(tmp_path)),
            f.loc.span.line + 1,
            f.loc.span.col + 1,
            f.loc.span.end_line + 1,
            f.loc.span.end_col + 1,
        )
        for f in got
    )
    if not expect:
        assert got_keys == [], f"{code} must not be reported, got {got_keys}: {[f.message for f in got]}"
        return
    for e in expect:
        if e.get("approx"):
            assert any(g[0] == e["file"] and g[1] == e["line"] for g in got_keys), (
                f"missing {e}; got {got_keys}"
            )
        else:
            key = (e["file"], e["line"], e["col"], e["end_line"], e["end_col"])
            assert key in got_keys, f"missing {key}; got {got_keys}"
    assert len(got_keys) == len(expect), f"expected {len(expect)} finding(s), got {got_keys}"
