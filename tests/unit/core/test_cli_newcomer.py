"""The CLI does what a first-time user guesses (issue 12): paths, several projects, pipes, versions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from freshlens.cli import main

PROJECT = "name: {name}\nversion: '1.0'\nprofile: p\n"


def _project(root: Path, name: str, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "dbt_project.yml").write_text(PROJECT.format(name=name))
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


BROKEN = {
    "models/staging/stg.sql": "select * from {{ ref('nope') }}",
    "models/marts/m.sql": "select * from {{ ref('gone') }}",
}


def test_check_on_a_folder_inside_a_project_reports_that_folder(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    _project(tmp_path / "p", "p", BROKEN)
    monkeypatch.chdir(tmp_path / "p" / "models")
    assert main(["check", "staging", "--format", "json"]) == 1
    files = {d["file"] for d in json.loads(capsys.readouterr().out)["diagnostics"]}
    assert files == {os.path.join("staging", "stg.sql")}  # relative to the current folder


def test_a_file_outside_any_project_exits_2(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    lone = tmp_path / "lone.sql"
    lone.write_text("select 1")
    assert main(["check", str(lone)]) == 2
    assert "belongs to no dbt project" in capsys.readouterr().err


def test_several_projects_plan_says_which(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    _project(tmp_path / "a", "a", {"models/x.sql": "select 1"})
    _project(tmp_path / "b", "b", {"models/y.sql": "select 1"})
    monkeypatch.chdir(tmp_path)
    assert main(["plan"]) == 2
    err = capsys.readouterr().err
    assert "holds 2 dbt projects (a, b)" in err
    assert main(["plan", "a", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["project"] == "a"


def test_explain_a_versioned_model_suggests_its_versions(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    _project(
        tmp_path,
        "v",
        {
            "models/dim_customers_v1.sql": "select 1",
            "models/dim_customers_v2.sql": "select 2",
            "models/s.yml": "version: 2\nmodels:\n  - name: dim_customers\n    latest_version: 2\n"
            "    versions:\n      - v: 1\n      - v: 2\n",
        },
    )
    assert main(["explain", "dim_customers", str(tmp_path)]) == 2
    assert "dim_customers.v2" in capsys.readouterr().err
    assert main(["explain", "dim_customers.v2", str(tmp_path)]) == 0


def test_folder_scan_skips_tool_folders(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    _project(tmp_path / "p", "p", {"models/x.sql": "select 1"})
    for skipped in ("env/lib/pkg", "node_modules/pkg", ".git/pkg", "p/target/pkg", "p/dbt_packages/pkg"):
        _project(tmp_path / skipped, "other", {"models/bad.sql": "{{ ref('nope') }}"})
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    assert main(["check", str(tmp_path)]) == 0
    assert "in 1 project(s)" in capsys.readouterr().err


@pytest.mark.parametrize("cmd", [["check", "--format", "json"], ["ls", "--format", "json"]])
def test_a_program_run_ends_at_once_with_all_its_output_and_its_exit_code(
    tmp_path: Path, cmd: list[str]
) -> None:
    """A read-only command run as a program ends with os._exit when done (the index is never freed):
    everything it printed must still arrive, to a pipe (block-buffered) as to a terminal, with its code."""
    files = {f"models/m{i}.sql": "select * from {{ ref('nope') }}" for i in range(300)}
    _project(tmp_path, "p", files)
    r = subprocess.run(
        [sys.executable, "-m", "freshlens", *cmd], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    doc = json.loads(r.stdout)  # whole: a lost buffer would cut the JSON short
    if cmd[0] == "check":
        assert r.returncode == 1  # errors found
        assert len(doc["diagnostics"]) == 300
    else:
        assert r.returncode == 0
        assert len(doc["nodes"]) == 300


@pytest.mark.parametrize("cmd", [["check", "--format", "json"], ["plan"]])
def test_a_closed_pipe_ends_quietly(tmp_path: Path, cmd: list[str]) -> None:
    files = {f"models/m{i}.sql": "select * from {{ ref('nope') }}" for i in range(300)}
    _project(tmp_path, "p", files)
    r = subprocess.run(
        f"{sys.executable} -m freshlens {' '.join(cmd)} | head -1",
        shell=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert r.stdout.startswith(("{", "freshlens plan"))
    assert "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr, r.stderr


def test_each_code_links_to_its_docs_page() -> None:
    from lsprotocol import types
    from pygls.workspace.position_codec import PositionCodec

    from freshlens.lsp.convert import to_diagnostic
    from freshlens.model import Finding, Loc, Severity, Span
    from freshlens.rules.codes import CODES, docs_url

    repo = Path(__file__).resolve().parents[3]
    for code in CODES:  # every link points at a page that exists
        assert (
            docs_url(code).endswith(f"/docs/rules/{code}.md")
            and (repo / "docs" / "rules" / f"{code}.md").is_file()
        )
    f = Finding("FL003", Severity.ERROR, "m", Loc("/x.sql", Span(0, 0, 0, 1)))
    d = to_diagnostic(f, PositionCodec(types.PositionEncodingKind.Utf16), lambda p: ["select 1"])
    assert d.code_description is not None and d.code_description.href == docs_url("FL003")
