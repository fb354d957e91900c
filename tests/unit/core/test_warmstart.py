"""Warm start (issue 11): a check's findings come back from .freshlens/cache only while nothing they
depend on changed, and are then exactly what a full check finds."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from freshlens import warmstart
from freshlens.workspace import Workspace

REPO = Path(__file__).resolve().parents[3]

BASE = {
    "dbt_project.yml": (
        "name: p\nversion: '1.0'\nprofile: p\nmodels:\n  p:\n    +freshness:\n"
        "      build_after: {count: 4, period: hour}\n"
    ),
    "models/a.sql": "{{ config(freshness={'build_after': {'count': 2, 'period': 'week'}}) }}\nselect 1",
    "models/b.sql": "select * from {{ ref('a') }} join {{ ref('nope') }}",
    "models/c.sql": "select * from {{ ref('b') }} -- café",
    "models/s.yml": "version: 2\nmodels:\n  - name: a\n    config:\n      freshness: null\n",
    "seeds/codes.csv": "id\n1\n",
    "macros/m.sql": "{% macro m() %}1{% endmacro %}",
}


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        f = root / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text, encoding="utf-8")


def age(root: Path, seconds: float = 60.0) -> None:
    """Every file as if written a minute ago: older than the racy window of the next check."""
    t = time.time() - seconds
    for dirpath, _, files in os.walk(root):
        for f in files:
            os.utime(os.path.join(dirpath, f), (t, t))


def full(root: Path, **kw) -> list:  # type: ignore[no-untyped-def]
    ws = Workspace([str(root)], **kw)
    ws.load()
    return ws.all_findings()


def warm(root: Path, **kw) -> list | None:  # type: ignore[no-untyped-def]
    ws = Workspace([str(root)], **kw)
    return ws.all_findings() if ws.load_cached() else None


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    write(tmp_path, BASE)
    age(tmp_path)
    return tmp_path


def test_a_second_check_gets_exactly_the_first_ones_findings(proj: Path) -> None:
    assert warm(proj) is None  # never checked: no cache
    first = full(proj)
    assert {f.code for f in first} >= {"FL003", "FL102"}
    assert (proj / ".freshlens/cache" / warmstart.FILE_NAME).is_file()
    assert warm(proj) == first
    assert warm(proj, render_cache=False) == first  # reading needs no write access


@pytest.mark.parametrize(
    "change",
    [
        "edit a model",
        "same size, new time",
        "new model",
        "model deleted",
        "edit a properties file",
        "edit dbt_project.yml",
        "new profiles.yml",
        "catalog.json written",
        "package installed",
        "seed added",
        "macro edited",
        ".dbtignore added",
    ],
)
def test_any_change_of_an_input_means_a_full_check(proj: Path, change: str) -> None:
    full(proj)
    assert warm(proj) is not None
    m = proj / "models"
    if change == "edit a model":
        (m / "b.sql").write_text("select * from {{ ref('a') }}")
    elif change == "same size, new time":
        text = (m / "b.sql").read_text()
        (m / "b.sql").write_text(text.replace("nope", "none"))  # the same size
    elif change == "new model":
        (m / "d.sql").write_text("select 1")
    elif change == "model deleted":
        (m / "c.sql").unlink()
    elif change == "edit a properties file":
        (m / "s.yml").write_text(BASE["models/s.yml"] + "  - name: b\n")
    elif change == "edit dbt_project.yml":
        (proj / "dbt_project.yml").write_text(BASE["dbt_project.yml"] + "vars: {x: 1}\n")
    elif change == "new profiles.yml":
        (proj / "profiles.yml").write_text("p:\n  target: dev\n  outputs:\n    dev: {type: postgres}\n")
    elif change == "catalog.json written":
        (proj / "target").mkdir()
        (proj / "target/catalog.json").write_text('{"nodes": {}, "sources": {}}')
    elif change == "package installed":
        write(
            proj,
            {
                "dbt_packages/pk/dbt_project.yml": "name: pk\nversion: '1'\n",
                "dbt_packages/pk/models/x.sql": "select 1",
            },
        )
    elif change == "seed added":
        (proj / "seeds/more.csv").write_text("id\n2\n")
    elif change == "macro edited":
        (proj / "macros/m.sql").write_text("{% macro m() %}2{% endmacro %}")
    elif change == ".dbtignore added":
        (proj / ".dbtignore").write_text("models/c.sql\n")
    assert warm(proj) is None, change
    age(proj)  # (a file written within the racy window and not read by the check is not cached)
    after = full(proj)
    assert warm(proj) == after  # and the new check is cached in turn


def test_settings_are_inputs(proj: Path) -> None:
    full(proj)
    assert warm(proj, vars={"x": 1}) is None
    assert warm(proj, env={"A": "1"}) is None  # env_var() may read the environment
    ws = Workspace([str(proj)])
    ws.engine = "v2"
    assert not ws.load_cached()
    ws = Workspace([str(proj)])
    ws.severity_overrides = {"FL003": "off"}
    assert not ws.load_cached()
    assert warm(proj) is not None  # and the same settings still hit


def test_a_file_changed_within_the_clock_resolution_is_caught_by_its_hash(tmp_path: Path) -> None:
    """Racy files: written just before the check, changed again without a new size or time."""
    write(tmp_path, BASE)  # fresh files: inside the racy window
    full(tmp_path)
    b = tmp_path / "models/b.sql"
    st = b.stat()
    b.write_text(b.read_text().replace("nope", "none"))
    os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns))  # the same size and time as when checked
    assert warm(tmp_path) is None


def test_a_cache_from_elsewhere_or_damaged_is_ignored(proj: Path) -> None:
    first = full(proj)
    path = proj / ".freshlens/cache" / warmstart.FILE_NAME
    # copied with its files' times (cp -p, rsync -t): the same inputs, the same findings, in the copy
    kept = proj.parent / "kept"
    shutil.copytree(proj, kept)
    assert warm(kept) == full(kept) != first
    # cloned or checked out elsewhere: new times, a full check
    other = proj.parent / "clone"
    shutil.copytree(proj, other, copy_function=shutil.copy)
    assert warm(other) is None
    for damage in (
        "",
        "{",
        "[]",
        '{"format": 1}',
        json.dumps({**json.loads(path.read_text()), "packages": 3}),
    ):
        path.write_text(damage)
        assert warm(proj) is None, damage
    assert full(proj) == first


def test_unsaved_buffers_are_never_cached(proj: Path) -> None:
    ws = Workspace([str(proj)], overlay={str(proj / "models/b.sql"): "select 1"})
    ws.load()
    assert not (proj / ".freshlens/cache" / warmstart.FILE_NAME).exists()


@pytest.mark.parametrize(
    "example",
    [
        "examples/jaffle_fresh",
        "examples/mistakes",
        "tests/fixtures/parity/jinja",
        "tests/fixtures/parity/package",
    ],
)
def test_cached_findings_equal_a_full_check_on_the_examples(tmp_path: Path, example: str) -> None:
    root = tmp_path / "p"
    shutil.copytree(REPO / example, root, ignore=shutil.ignore_patterns(".freshlens", "target", "logs"))
    age(root)
    first = full(root)
    assert warm(root) == first


def test_check_no_cache_neither_reads_nor_writes_the_cache(
    proj: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from freshlens.cli import main

    cache = proj / ".freshlens" / "cache"
    assert main(["check", "--no-cache", "--format", "json", str(proj)]) == 1
    full_out = capsys.readouterr().out
    assert not cache.exists()
    assert main(["check", "--format", "json", str(proj)]) == 1  # writes the cache
    assert (cache / warmstart.FILE_NAME).is_file()
    assert capsys.readouterr().out == full_out
    # a cache that says something else is not read with --no-cache
    data = json.loads((cache / warmstart.FILE_NAME).read_text())
    data["findings"] = []
    (cache / warmstart.FILE_NAME).write_text(json.dumps(data))
    assert main(["check", "--no-cache", "--format", "json", str(proj)]) == 1
    assert capsys.readouterr().out == full_out
