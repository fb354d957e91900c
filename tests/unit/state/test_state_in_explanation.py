"""Issue 8: the explanation says where the state came from and how old it is."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from freshlens.cli import main
from freshlens.state.store import StateStore


def test_explain_names_the_newest_run_and_its_age(
    artifacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "tiny"
    shutil.copytree(artifacts / "tiny_project", project)
    db = tmp_path / "s.db"
    with StateStore(db) as store:
        store.ingest(artifacts / "run1", origin="dbt platform job 7, run 42")
    at = ("--at", "2026-11-25T15:42:18Z")
    assert main(["explain", "stg_orders", str(project), "--state", str(db), *at]) == 0
    out = capsys.readouterr().out
    assert "- state: newest run from dbt platform job 7, run 42, generated 2026-11-25 13:4" in out
    assert "ago)" in out.split("- state:")[1].splitlines()[0]
