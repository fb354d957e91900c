"""The parts of ``freshlens run`` that do not need a warehouse: finding dbt and its version, passing
arguments through, exact selectors and chunks, and the run records in the state store.

The old-dbt and Fusion cases use small executables that print what those versions print for
``dbt --version`` (dbt-core 1.7 cannot be installed next to 1.11 here); the real dbt, when
``.venv-dbt`` exists, is read too.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from freshlens.cli import main, split_dbt_args
from freshlens.runner.dbt import DbtError, find_dbt, resolve_dbt, shared_args, target_dir
from freshlens.runner.selection import chunks, node_selectors
from freshlens.state import StateStore
from freshlens.state.store import SCHEMA_VERSION
from freshlens.workspace import Workspace

REPO = Path(__file__).resolve().parents[3]
REAL_DBT = REPO / ".venv-dbt" / "bin" / "dbt"


def _script(path: Path, output: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\ncat <<'OUT'\n{output}\nOUT\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_dbt_core_older_than_1_8_is_refused_with_what_to_do(tmp_path: Path) -> None:
    dbt = _script(tmp_path / "bin" / "dbt", "Core:\n  - installed: 1.7.19\n  - latest:    1.7.19")
    with pytest.raises(DbtError) as exc:
        resolve_dbt(str(dbt), dict(os.environ))
    assert "dbt-core 1.7.19" in str(exc.value) and "1.8 or later" in str(exc.value)


def test_dbt_fusion_is_named_not_misread(tmp_path: Path) -> None:
    dbt = _script(tmp_path / "dbt", "dbt-fusion 2.0.0-preview.45")
    with pytest.raises(DbtError, match="Fusion"):
        resolve_dbt(str(dbt), dict(os.environ))


def test_version_output_without_a_version_is_an_error_not_a_guess(tmp_path: Path) -> None:
    dbt = _script(tmp_path / "dbt", "usage: dbt [OPTIONS]")
    with pytest.raises(DbtError, match="did not say which dbt-core"):
        resolve_dbt(str(dbt), dict(os.environ))


@pytest.mark.skipif(not REAL_DBT.exists(), reason="real dbt not installed (.venv-dbt)")
def test_real_dbt_version_is_read_from_its_interpreter() -> None:
    got = resolve_dbt(str(REAL_DBT), dict(os.environ))
    assert got.version.startswith("1.") and int(got.version.split(".")[1]) >= 8


def test_dbt_is_found_on_the_flag_then_the_virtualenv_then_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv_dbt = _script(tmp_path / "venv" / "bin" / "dbt", "")
    path_dbt = _script(tmp_path / "elsewhere" / "dbt", "")
    monkeypatch.setenv("PATH", str(path_dbt.parent))
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path / "venv"))
    assert find_dbt(str(path_dbt)) == str(path_dbt)
    assert find_dbt("") == str(venv_dbt)
    monkeypatch.delenv("VIRTUAL_ENV")
    assert find_dbt("") == str(path_dbt)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(DbtError, match="--dbt"):
        find_dbt("")
    with pytest.raises(DbtError, match="no executable dbt"):
        find_dbt(str(tmp_path / "nope"))


def test_arguments_after_the_double_dash_go_to_dbt() -> None:
    assert split_dbt_args(["run", ".", "--dry-run", "--", "--target", "prod", "--full-refresh"]) == (
        ["run", ".", "--dry-run"],
        ["--target", "prod", "--full-refresh"],
    )
    assert split_dbt_args(["plan", "--", "x"]) == (["plan", "--", "x"], [])
    # connection options reach `dbt source freshness` / `dbt ls` too; build-only ones do not
    assert shared_args(["--target", "prod", "--full-refresh", "--vars={a: 1}", "--threads", "4"]) == [
        "--target",
        "prod",
        "--vars={a: 1}",
    ]


def test_artifacts_are_read_where_dbt_writes_them(tmp_path: Path) -> None:
    root = str(tmp_path)
    assert target_dir(root, [], {}) == os.path.join(root, "target")
    assert target_dir(root, ["--target-path", "out"], {}) == os.path.join(root, "out")
    assert target_dir(root, [], {"DBT_TARGET_PATH": "/abs/t"}) == "/abs/t"


def _index(root: Path, files: dict[str, str]):  # type: ignore[no-untyped-def]
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    ws = Workspace([str(root)])
    ws.load()
    proj = ws.projects[os.path.join(str(root), "dbt_project.yml")]
    assert proj.index is not None
    return proj.index


def test_selectors_are_exact_even_when_a_folder_shares_a_model_name(tmp_path: Path) -> None:
    idx = _index(
        tmp_path,
        {
            "dbt_project.yml": "name: p\nversion: '1'\nconfig-version: 2\nprofile: p\n",
            "models/a.sql": "select 1 as x\n",
            "models/a/b.sql": "select * from {{ ref('a') }}\n",
            "models/c.sql": "select 2 as y\n",
        },
    )
    got = node_selectors(idx, ["model.p.a", "model.p.b", "model.p.c"])
    # fqn:p.a alone would also select p.a.b (a prefix): it is narrowed to its file
    assert got == ["fqn:p.a,path:models/a.sql", "fqn:p.a.b", "fqn:p.c"]


def test_chunks_keep_the_order_and_the_limit() -> None:
    sels = [f"fqn:p.m{i:03d}" for i in range(100)]  # 10 characters each, 11 with the separator
    parts = chunks(sels, limit=110)
    assert [s for part in parts for s in part] == sels
    assert all(sum(len(s) + 1 for s in part) <= 110 for part in parts) and len(parts) == 10
    assert chunks([], limit=10) == []


def test_runner_runs_record_reused_models_with_their_reasons_once(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore(path) as store:
        assert store.runner_runs() == []  # a store from before freshlens run: no tables yet, no error
        store._db.execute(
            "INSERT INTO nodes (unique_id, resource_type, name) VALUES ('model.p.a', 'model', 'a')"
        )
        start = datetime(2026, 6, 1, tzinfo=UTC)
        reused = {"model.p.a": ("No new changes on any upstreams", "SAO 1.5.7"), "model.p.gone": ("x", "r")}
        assert store.record_runner_run("r1", start, "sao", None, 0, (0, 2, 0), reused) == 1
        assert store.record_runner_run("r1", start, "sao", None, 0, (0, 2, 0), reused) == 0
        snap = store.snapshot().node("model.p.a")
        assert snap is not None and (snap.last_status, snap.last_message) == (
            "reused",
            "No new changes on any upstreams",
        )
        runs = store.runner_runs()
    assert [r["run_id"] for r in runs] == ["r1"] and runs[0]["reused_models"]["model.p.a"].startswith(
        "No new"
    )
    with sqlite3.connect(
        path
    ) as db:  # the runner's tables are additive: the schema version is the store's own
        got = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        assert got == str(SCHEMA_VERSION)


def test_cli_errors_say_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tmp_path / "none"), "--dbt", sys.executable]) == 2
    assert "no dbt_project.yml" in capsys.readouterr().err
    (tmp_path / "dbt_project.yml").write_text("name: p\nversion: '1'\nconfig-version: 2\nprofile: p\n")
    (tmp_path / "arts").mkdir()
    assert main(["run", str(tmp_path), "--state", str(tmp_path / "arts")]) == 2
    assert "needs a state store file" in capsys.readouterr().err
