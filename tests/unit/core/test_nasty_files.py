"""The nasty-file corpus: every hostile or broken input gets its diagnostic, in bounded time.

Files from tests/fixtures/nasty/ are dropped into a tiny project; FIFOs, symlink loops and the very
large or very deep inputs are made here. Each case asserts the code, a phrase of the message that
says why, and a time bound, and that nothing raises out of the core.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from freshlens.project.reading import read_project_file
from freshlens.workspace import Workspace

NASTY = Path(__file__).resolve().parents[2] / "fixtures" / "nasty"
BOUND_S = 5.0  # generous for a shared CI machine; each case takes well under a second here

PROJECT = "name: p\nversion: '1.0'\nprofile: p\n"


def _copy(name: str) -> Callable[[Path], None]:
    def make(target: Path) -> None:
        target.write_bytes((NASTY / name).read_bytes())

    return make


def _text(text: str) -> Callable[[Path], None]:
    return lambda target: target.write_text(text, encoding="utf-8")


def _fifo(target: Path) -> None:
    os.mkfifo(target)


def _loop(target: Path) -> None:
    other = target.with_name("other_" + target.name)
    os.symlink(other.name, target)
    os.symlink(target.name, other)


DEEP = 20_000
CASES: list[tuple[str, Callable[[Path], None], str, str]] = [
    # (file in the project, how to make it, expected code, phrase of the message)
    ("models/latin1.sql", _copy("latin1.sql"), "FL008", "not valid UTF-8"),
    ("models/utf16.sql", _copy("utf16.sql"), "FL008", "UTF-16"),
    ("models/utf16.yml", _copy("utf16.yml"), "FL008", "UTF-16"),
    ("models/bad_utf8.yml", _copy("bad_utf8.yml"), "FL008", "not valid UTF-8"),
    ("models/nul.sql", _copy("nul.sql"), "FL011", "binary data"),
    ("models/nul.yml", _copy("nul.yml"), "FL011", "binary data"),
    ("models/crlf.sql", _copy("crlf.sql"), "FL003", "ref('nope')"),
    ("models/alias_bomb.yml", _copy("alias_bomb.yml"), "FL011", "alias bomb"),
    ("models/merge_cycle.yml", _copy("merge_cycle.yml"), "FL011", "cycle"),
    ("models/self_alias.yml", _copy("self_alias.yml"), "FL011", "cycle"),
    ("models/props_list.yml", _copy("props_list.yml"), "FL001", "must be a mapping"),
    ("dbt_project.yml", _copy("dbt_project_list.yml"), "FL001", "must be a mapping"),
    ("dbt_project.yml", _copy("dbt_project_scalar.yml"), "FL001", "must be a mapping"),
    ("models/unclosed.sql", _copy("unclosed.sql"), "FL002", "never closed"),
    ("models/two_docs.yml", _copy("two_docs.yml"), "FL001", "single document"),
    ("models/pipe.sql", _fifo, "FL011", "named pipe"),
    ("models/pipe.yml", _fifo, "FL011", "named pipe"),
    ("dbt_project.yml", _fifo, "FL011", "named pipe"),
    ("models/loop.sql", _loop, "FL011", "loops back"),
    ("models/loop.yml", _loop, "FL011", "loops back"),
    (
        "models/deep_config.sql",
        _text("{{ config(meta=" + "{'a': " * DEEP + "1" + "}" * DEEP + ") }}\nselect 1\n"),
        "FL011",
        "levels deep",
    ),
    (
        "models/parens.sql",
        _text("select * from {{ ref(" + "(" * 100_000 + "'x'" + ")" * 100_000 + ") }}\n"),
        "FL011",
        "levels deep",
    ),
    (
        "models/deep_seq.yml",
        _text("version: 2\nx:\n" + "".join("  " * i + "- \n" for i in range(1, 150))),
        "FL011",
        "levels deep",
    ),
    ("models/deep_flow.yml", _text("x: " + "[" * DEEP + "]" * DEEP + "\n"), "FL001", "nesting depth"),
    (
        "models/deep.py",
        _text("def model(dbt, s):\n    dbt.config(meta=" + "{'a': " * 150 + "1" + "}" * 150 + ")\n"),
        "FL011",
        "levels deep",
    ),
    ("models/long_line.sql", _text("-- " + "x" * (10 * 1024 * 1024) + "\nselect 1\n"), "FL011", "MB"),
    ("models/huge.yml", _text("# x\n" * (6 * 1024 * 1024 // 4)), "FL011", "MB"),
]


@pytest.mark.parametrize(("rel", "make", "code", "phrase"), CASES, ids=[f"{c[0]}:{c[3]}" for c in CASES])
def test_nasty_file_gets_its_diagnostic(
    tmp_path: Path, rel: str, make: Callable[[Path], None], code: str, phrase: str
) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "crlf.sql").write_text("select 1\n")
    if rel != "dbt_project.yml":
        (tmp_path / "dbt_project.yml").write_text(PROJECT)
    target = tmp_path / rel
    make(target)
    started = time.monotonic()
    ws = Workspace([str(tmp_path)])
    ws.load()
    found = ws.all_findings()
    elapsed = time.monotonic() - started
    assert elapsed < BOUND_S, f"{rel}: {elapsed:.1f} s"
    on_file = [f for f in found if f.loc.path == str(target) and f.code == code]
    assert on_file, f"no {code} on {rel}; got {[(f.loc.path, f.code, f.message) for f in found]}"
    assert any(phrase in f.message for f in on_file), [f.message for f in on_file]


def test_a_file_gone_between_listing_and_reading(tmp_path: Path) -> None:
    text, problem = read_project_file(str(tmp_path / "gone.sql"))
    assert text == ""
    assert problem is not None and problem.code == "FL011"
    assert "deleted or renamed" in problem.message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file(tmp_path: Path) -> None:
    p = tmp_path / "m.sql"
    p.write_text("select 1")
    p.chmod(0)
    _, problem = read_project_file(str(p))
    assert problem is not None and problem.code == "FL008" and "permissions" in problem.message


def test_a_folder_symlink_loop_is_not_walked_forever(tmp_path: Path) -> None:
    (tmp_path / "dbt_project.yml").write_text(PROJECT)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "a.sql").write_text("select 1")
    os.symlink("..", tmp_path / "models" / "up")
    started = time.monotonic()
    ws = Workspace([str(tmp_path)])
    ws.load()
    assert time.monotonic() - started < BOUND_S
    assert ws.all_findings() == []


def test_check_warns_about_a_skipped_file_and_exits_0(tmp_path: Path) -> None:
    """A FIFO in models/: `check` ends, names the file, and does not call the project clean."""
    (tmp_path / "dbt_project.yml").write_text(PROJECT)
    (tmp_path / "models").mkdir()
    os.mkfifo(tmp_path / "models" / "pipe.sql")
    r = subprocess.run(
        [sys.executable, "-m", "freshlens", "check", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "models/pipe.sql:1:1: FL011 warning" in r.stdout
    assert "Traceback" not in r.stderr
