"""Incremental updates, bad input, and the CLI contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from freshlens.cli import main
from freshlens.workspace import Workspace

BASE = {
    "dbt_project.yml": "name: p\nversion: '1.0'\nprofile: p\nmodels:\n  p:\n    +freshness:\n      build_after: {count: 4, period: hour}\n",
    "models/a.sql": "select 1",
    "models/b.sql": "select * from {{ ref('a') }}",
    "models/s.yml": "version: 2\nmodels:\n  - name: a\n    config:\n      freshness: null\n",
}


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        f = root / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)


def codes(ws: Workspace) -> list[tuple[str, str]]:
    return sorted((Path(f.loc.path).name, f.code) for f in ws.all_findings())


def test_edit_reports_which_files_changed(tmp_path: Path) -> None:
    write(tmp_path, BASE)
    ws = Workspace([str(tmp_path)])
    ws.load()
    assert codes(ws) == [("s.yml", "FL110")]
    # an edit that breaks a ref: only b.sql's findings change
    changed = ws.update_file(str(tmp_path / "models/b.sql"), "select * from {{ ref('nope') }}")
    assert changed == {str(tmp_path / "models/b.sql")}
    assert ("b.sql", "FL003") in codes(ws)
    # an edit in dbt_project.yml can change findings elsewhere (the inherited value disappears)
    changed = ws.update_file(str(tmp_path / "dbt_project.yml"), "name: p\nversion: '1.0'\nprofile: p\n")
    assert str(tmp_path / "models/s.yml") in changed
    assert ("s.yml", "FL110") not in codes(ws)
    # the editor closes b.sql: back to the disk version, the problem goes away
    changed = ws.close_file(str(tmp_path / "models/b.sql"))
    assert str(tmp_path / "models/b.sql") in changed
    assert ("b.sql", "FL003") not in codes(ws)


def test_deleting_a_model_reports_unresolved_refs(tmp_path: Path) -> None:
    write(tmp_path, BASE)
    ws = Workspace([str(tmp_path)])
    ws.load()
    (tmp_path / "models/a.sql").unlink()
    changed = ws.update_file(str(tmp_path / "models/a.sql"), None)
    assert str(tmp_path / "models/b.sql") in changed
    assert ("b.sql", "FL003") in codes(ws)


def test_bad_input_never_stops_the_project(tmp_path: Path) -> None:
    write(tmp_path, BASE)
    (tmp_path / "models/bad.yml").write_text("models:\n  - name: a\n   config: [\n")
    (tmp_path / "models/latin1.sql").write_bytes("select 'caf\xe9'".encode("latin-1"))
    (tmp_path / "models/broken.sql").write_text("select {{ ref('a') ")
    (tmp_path / "models/huge.yml").write_text("# x\n" * (6 * 1024 * 1024 // 4))
    ws = Workspace([str(tmp_path)])
    ws.load()
    got = codes(ws)
    assert ("bad.yml", "FL001") in got
    assert ("latin1.sql", "FL008") in got
    assert ("broken.sql", "FL002") in got
    assert ("huge.yml", "FL011") in got  # too large: not analysed, a warning
    assert ("s.yml", "FL110") in got  # the rest of the project is still served


def test_cli_check_json_contract_and_exit_codes(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # paths are printed relative to the current folder
    write(
        tmp_path,
        {
            **BASE,
            "models/c.sql": "{{ config(freshness={'build_after': {'count': 1, 'period': 'week'}}) }}\nselect 1",
        },
    )
    assert main(["check", str(tmp_path), "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["version"] == 1
    d = next(x for x in out["diagnostics"] if x["code"] == "FL102")
    assert d == {
        "file": "models/c.sql",
        "line": 1,
        "column": 60,
        "end_line": 1,
        "end_column": 66,
        "severity": "error",
        "code": "FL102",
        "message": d["message"],
        "url": "https://github.com/freshlens/freshlens/blob/HEAD/docs/rules/FL102.md",
    }
    assert main(["check", str(tmp_path / "models" / "a.sql")]) == 0  # one file: only its findings
    assert main(["check", str(tmp_path / "nope")]) == 2
    text = subprocess.run(
        [sys.executable, "-m", "freshlens", "check", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert text.returncode == 1
    assert "models/c.sql:1:60: FL102 error period `week` is not valid" in text.stdout
    usage = subprocess.run(
        [sys.executable, "-m", "freshlens", "check", "--format", "xml"], capture_output=True, text=True
    )
    assert usage.returncode == 2 and "invalid choice" in usage.stderr


def test_incremental_edits_match_a_full_reload(tmp_path: Path) -> None:
    """The fast path for a model edit (one node re-derived, its files re-checked) agrees with a fresh index."""
    files = {
        **BASE,
        "models/c.sql": "{{ config(materialized='table', state={'lag_tolerance': '4h'}) }}\nselect * from {{ ref('b') }}",
        "models/s2.yml": "version: 2\nmodels:\n  - name: c\n    config:\n      freshness:\n        build_after: {count: 1, period: day, updates_on: all}\n",
    }
    write(tmp_path, files)
    ws = Workspace([str(tmp_path)])
    ws.load()
    edits = [
        (
            "models/c.sql",
            "{{ config(materialized='view', state={'lag_tolerance': '1H', 'pre_clone': 'x'}) }}\nselect * from {{ ref('b') }} join {{ ref('zz') }}",
        ),
        (
            "models/b.sql",
            "{{ config(freshness=none) }}\nselect * from {{ ref('a') }} join {{ source('s', 't') }}",
        ),
        ("models/c.sql", "select * from {{ ref('a') }} join {{ ref('b') }}"),
        (
            "models/s2.yml",
            "version: 2\nmodels:\n  - name: c\n    config:\n      freshness:\n        build_after: {count: 2}\n",
        ),
        ("models/a.sql", "{{ config(freshness={'build_after': {'count': 1, 'period': 'week'}}) }}\nselect 1"),
        (
            "models/s.yml",
            "version: 2\nmodels:\n  - name: a\n    config:\n      state: {lag_tolerance: 2H}\n"
            "sources:\n  - name: s\n    loaded_at_field: x\n    tables:\n      - name: t\n        loaded_at_query: q\n",
        ),
        ("models/b.sql", "select * from {{ source('s', 't') }}"),
        (
            "models/s.yml",
            "version: 2\nmodels:\n  - name: a\n    freshness: {build_after: {count: 1, period: day}}\n"
            "sources:\n  - name: s\n    loaded_at_field: x\n    freshness: {warn_after: {count: 1}}\n    tables:\n      - name: t\n",
        ),
        ("models/s.yml", "version: 2\nmodels:\n  - name: renamed\n"),
        ("models/s.yml", "version: 2\nmodels: [\n"),
    ]
    for rel, text in edits:
        ws.update_file(str(tmp_path / rel), text)
        fresh = Workspace([str(tmp_path)], overlay=dict(ws.overlay))
        fresh.load()
        assert ws.findings() == fresh.findings() or {p: v for p, v in ws.findings().items() if v} == {
            p: v for p, v in fresh.findings().items() if v
        }, rel
        idx, fidx = next(iter(ws.projects.values())).index, next(iter(fresh.projects.values())).index
        assert idx is not None and fidx is not None
        assert {u: n.parents for u, n in idx.nodes.items()} == {u: n.parents for u, n in fidx.nodes.items()}
        assert {u: (st.loaded_at_method, st.freshness.active) for u, st in idx.sources.items()} == {
            u: (st.loaded_at_method, st.freshness.active) for u, st in fidx.sources.items()
        }
        assert {u: n.effective.get("freshness").value for u, n in idx.nodes.items()} == {
            u: n.effective.get("freshness").value for u, n in fidx.nodes.items()
        }


def test_serve_accepts_the_stdio_flag_clients_pass() -> None:
    """Many LSP clients start servers with `--stdio`; the server reads stdio either way."""
    done = subprocess.run(
        [sys.executable, "-m", "freshlens", "serve", "--stdio"],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr


def test_edits_do_not_freeze_the_callers_garbage(tmp_path: Path) -> None:
    """Issue 12: gc.freeze() after each edit kept the language server's garbage cycles forever."""
    import gc
    import weakref

    write(tmp_path, BASE)
    ws = Workspace([str(tmp_path)])
    ws.load()

    class Node:
        other: object

    refs = []
    for i in range(50):
        a, b = Node(), Node()
        a.other, b.other = b, a  # a garbage cycle, like a finished asyncio task and its future
        refs.append(weakref.ref(a))
        del a, b
        ws.update_file(str(tmp_path / "models/b.sql"), f"select {i} from {{{{ ref('a') }}}}")
    gc.collect()
    assert sum(r() is not None for r in refs) == 0


def test_workspace_folders_added_and_removed(tmp_path: Path) -> None:
    """set_roots (the editor's workspace folders): a new folder's project is checked, a removed
    folder's files go back to no findings and are reported as changed so the editor clears them."""
    one, two = tmp_path / "one", tmp_path / "two"
    write(one, BASE)
    write(two, {**BASE, "models/b.sql": "select * from {{ ref('nope') }}"})
    ws = Workspace([str(one)])
    ws.load()
    assert codes(ws) == [("s.yml", "FL110")]
    changed = ws.set_roots([str(one), str(two)])
    assert changed == {str(two / "models/b.sql"), str(two / "models/s.yml")}
    assert codes(ws) == [("b.sql", "FL003"), ("s.yml", "FL110"), ("s.yml", "FL110")]
    changed = ws.set_roots([str(two)])
    assert changed == {str(one / "models/s.yml")}
    assert [Path(f.loc.path).parent.parent.name for f in ws.all_findings()] == ["two", "two"]
    # a file changed on disk while its folder was out of the workspace is read again when it returns
    (one / "models/b.sql").write_text("select * from {{ ref('gone') }}")
    ws.set_roots([str(one), str(two)])
    assert str(one / "models/b.sql") in {f.loc.path for f in ws.all_findings() if f.code == "FL003"}


def test_did_you_mean_after_an_edit_matches_a_fresh_check(tmp_path: Path) -> None:
    files = {
        **BASE,
        "models/orders.sql": "select 1",
        "models/s.yml": "version: 2\nmodels:\n  - name: a\n  - name: order\n",
    }
    write(tmp_path, files)
    ws = Workspace([str(tmp_path)])
    ws.load()
    before = [f.message for f in ws.all_findings() if f.code == "FL010"]
    assert before and "Did you mean `orders`?" in before[0]
    ws.update_file(str(tmp_path / "models/s.yml"), files["models/s.yml"] + "\n")
    assert [f.message for f in ws.all_findings() if f.code == "FL010"] == before


def test_an_open_buffer_is_a_file_even_when_its_disk_copy_is_gone(tmp_path: Path) -> None:
    """The editor's buffer is the truth for an open file: deleted on disk under the open buffer (a
    checkout, another tool), or new and never saved, it is still a model of the project, through
    every later re-listing of the folder, until the editor closes it."""
    write(tmp_path, BASE)
    ws = Workspace([str(tmp_path)])
    ws.load()
    a, c = str(tmp_path / "models/a.sql"), str(tmp_path / "models/c.sql")
    ws.update_file(a, "select 2")  # opened and edited
    (tmp_path / "models/a.sql").unlink()  # the watcher's Deleted event is ignored for open files
    # another file comes and goes on disk: the folder is listed again
    (tmp_path / "models/x.sql").write_text("select 1")
    ws.update_file(str(tmp_path / "models/x.sql"), None)
    assert ("b.sql", "FL003") not in codes(ws)  # ref('a') still resolves: a.sql is open
    # a model created in the editor and not saved yet is listed too, and refs to it resolve
    ws.update_file(str(tmp_path / "models/b.sql"), "select * from {{ ref('a') }} join {{ ref('c') }}")
    assert ("b.sql", "FL003") in codes(ws)
    ws.update_file(c, "select 3")
    assert ("b.sql", "FL003") not in codes(ws)
    # closed without saving: back to the disk, where neither exists
    ws.close_file(a)
    ws.close_file(c)
    assert [f.message for f in ws.all_findings() if f.code == "FL003"] and all(
        Path(f.loc.path).name == "b.sql" for f in ws.all_findings() if f.code == "FL003"
    )
    assert len([f for f in ws.all_findings() if f.code == "FL003"]) == 2
