"""Crashes the fuzz tests found, each kept as a plain example so it stays fixed (issue 12)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fuzzkit import ARTIFACTS, bounded

from freshlens.model import Span
from freshlens.project.files import parse_props_file, parse_sql_file
from freshlens.state.artifacts import read_run_results
from freshlens.state.store import StateStore
from freshlens.workspace import Workspace


def test_lone_surrogate_in_yaml_is_a_syntax_finding() -> None:
    """An editor buffer with a lone UTF-16 surrogate: libyaml raised UnicodeEncodeError (a crash)."""
    props = parse_props_file("models/x.yml", "version: 2\nmodels:\n  - name: a\ud800b\n")
    assert [(p.code, p.loc.span) for p in props.problems] == [("FL001", Span(2, 11, 2, 12))]
    assert "lone surrogate" in props.problems[0].message


@pytest.mark.parametrize(
    "text",
    [
        "{{ config(ps: materialized='table') }}\nselect 1\n",  # a key typed without '='
        "select * from {{ ref('count': 4}) }}\n",
        "select * from {{ ref('a', , 'b') }}\n",
        "{{ config(materialized=) }}\nselect 1\n",
    ],
)
def test_a_stray_token_in_call_arguments_is_a_jinja_finding(text: str) -> None:
    """The scanner's internal _ParseFail escaped scan_sql on these (found by tests/fuzz): now FL002."""
    sql = parse_sql_file("models/x.sql", text)
    assert [p.code for p in sql.problems] == ["FL002"], sql.problems
    assert "not valid Jinja" in sql.problems[0].message


def test_a_file_with_thousands_of_findings_is_answered_in_bounded_time(tmp_path: Path) -> None:
    """5,000 unclosed {% for %} blocks: 5,000 FL002 findings, which Workspace.findings() merged with a
    list membership test (12.5 million comparisons, 14 s; found by tests/fuzz). Now a set."""
    (tmp_path / "models").mkdir()
    (tmp_path / "dbt_project.yml").write_text("name: p\nversion: '1.0'\nprofile: p\n")
    (tmp_path / "models" / "m.sql").write_text("select 1\n" + "{% for i in x %}" * 5000)
    ws = Workspace([str(tmp_path)])
    found = bounded(lambda: (ws.load(), ws.all_findings())[1])
    assert len([f for f in found if f.code == "FL002"]) == 5000


def test_an_artifact_with_a_lone_surrogate_escape_is_ingested(tmp_path: Path) -> None:
    """JSON may hold "\\ud800" alone (half a UTF-16 pair); SQLite refused it with UnicodeEncodeError,
    which escaped `freshlens state ingest` (found by tests/fuzz). It is read as U+FFFD now."""
    run = tmp_path / "run"
    shutil.copytree(ARTIFACTS / "run1", run)
    data = json.loads((run / "run_results.json").read_text())
    data["results"][0]["message"] = "broken \ud800 text"
    (run / "run_results.json").write_text(json.dumps(data))  # ensure_ascii: written as \ud800
    assert "broken \ufffd text" in {r.message for r in read_run_results(run / "run_results.json").results}
    with StateStore(tmp_path / "state.db") as store:
        store.ingest(run)
    # the same half pair as raw bytes (CESU-8), which json.loads lets through too
    raw = (
        (run / "run_results.json").read_bytes().replace(b"\\ud800", "\ud800".encode("utf-8", "surrogatepass"))
    )
    (run / "run_results.json").write_bytes(raw)
    assert "broken \ufffd text" in {r.message for r in read_run_results(run / "run_results.json").results}
