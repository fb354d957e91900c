"""The state store never loses history (issue 12): kept runs, repair of a damaged store, verify/rebuild,
ingests killed at random points, concurrent ingests. Real SQLite files, real subprocesses."""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from state_helpers import copy_run

from freshlens.cli import main
from freshlens.state import StateStore, StateStoreError, load_state
from freshlens.state.archive import runs_dir_for
from freshlens.state.snapshot import StateSnapshot

ARTIFACT_FILES = ["catalog.json", "manifest.json", "run_results.json", "sources.json"]

# A real process ingesting one run: says "ready" once imported, then ingests, then prints the time it took.
WORKER = """
import sys, time
from freshlens.state import StateStore
db, run, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
print("ready", flush=True)
while time.time() < start:
    time.sleep(0.001)
t0 = time.perf_counter()
with StateStore(db) as store:
    store.ingest(run)
print("done", time.perf_counter() - t0, flush=True)
"""


def store_runs(db: Path) -> list[tuple[int, str, str]]:
    con = sqlite3.connect(db)
    rows = con.execute("SELECT seq, kind, origin FROM runs ORDER BY seq").fetchall()
    con.close()
    return [(int(s), str(k), str(o)) for s, k, o in rows]


def state_of(snap: StateSnapshot) -> tuple[object, ...]:
    """A snapshot without its origin (the file path), for comparing stores at different paths."""
    return (snap.nodes, snap.sources, snap.cleared_at, snap.last_run_at, snap.last_run_source)


def worker(db: Path, run: Path, start: float = 0.0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(db), str(run), str(start)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_every_ingest_is_kept_compressed_and_a_repeat_is_not(artifacts: Path, tmp_path: Path) -> None:
    """Issue 12.1: each ingest's artifacts are kept gzip-compressed beside the store, byte for byte."""
    db = tmp_path / "state.db"
    with StateStore(db) as store:
        store.ingest(artifacts / "run1")
        store.ingest(artifacts / "run2", origin="s3://bucket/prod/run2")
        again = store.ingest(artifacts / "run2", origin="s3://bucket/prod/run2")
        assert not again.changed
    kept = runs_dir_for(db)
    assert kept == tmp_path / "state.db.runs"
    folders = sorted(p for p in kept.iterdir())
    assert len(folders) == 2  # the repeat kept nothing
    for folder, run in zip(folders, ("run1", "run2"), strict=True):
        invocation = json.loads((artifacts / run / "run_results.json").read_text())["metadata"][
            "invocation_id"
        ]
        assert folder.name.endswith(invocation)
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            ["entry.json", *(f"{n}.gz" for n in ARTIFACT_FILES)]
        )
        for name in ARTIFACT_FILES:
            assert (
                gzip.decompress((folder / f"{name}.gz").read_bytes()) == (artifacts / run / name).read_bytes()
            )
        assert (folder / "manifest.json.gz").stat().st_size < (
            artifacts / run / "manifest.json"
        ).stat().st_size / 4
    entries = [json.loads((f / "entry.json").read_text()) for f in folders]
    assert [(e["seq"], e["kind"], e["origin"]) for e in entries] == [
        (1, "ingest", str(artifacts / "run1")),
        (2, "ingest", "s3://bucket/prod/run2"),
    ]
    assert not list(kept.glob(".tmp-*"))


def _three_steps(artifacts: Path, db: Path) -> StateSnapshot:
    """run1, a clear, then run2 (made newer than the clear): the order matters for the result."""
    run2 = copy_run("run2", db.parent / "run2")
    for name in ("run_results.json", "sources.json"):
        data = json.loads((run2 / name).read_text())
        data["metadata"]["generated_at"] = "2099-01-01T00:00:00.000000Z"
        (run2 / name).write_text(json.dumps(data))
    with StateStore(db) as store:
        store.ingest(artifacts / "run1")
        store.clear()
        time.sleep(0.01)
        store.ingest(run2)
        snap = store.snapshot()
    assert snap.cleared_at is not None and snap.nodes["model.tiny.stg_orders"].last_success_at is not None
    assert snap.nodes["model.tiny.event_counts"].last_success_at is None  # built in run1, before the clear
    return snap


def test_damaged_pages_are_detected_moved_aside_and_rebuilt_in_order(artifacts: Path, tmp_path: Path) -> None:
    """Issue 12.2: damage found by a query; the file goes aside and the store is rebuilt, clear included."""
    db = tmp_path / "state.db"
    before = _three_steps(artifacts, db)
    original = db.read_bytes()
    with open(db, "r+b") as fh:  # the header stays valid: only a query can find this
        fh.seek(4096 * 2)
        fh.write(b"\xff" * 4096 * 3)
    with StateStore(db) as store:
        assert store.recovered is not None
        snap = store.snapshot()
        assert store.verify().ok
    aside = list(tmp_path.glob("state.db.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes()[: 4096 * 2] == original[: 4096 * 2]
    assert (
        "damaged" in store.recovered
        and aside[0].name in store.recovered
        and "3 kept run(s)" in store.recovered
    )
    assert "delete it" not in store.recovered
    assert state_of(snap) == state_of(before)
    assert [k for _, k, _ in store_runs(db)] == ["ingest", "clear", "ingest"]


def test_bad_header_and_missing_file_are_rebuilt(artifacts: Path, tmp_path: Path) -> None:
    """Issue 12.2: the cheap header check on open; a store file deleted with its kept runs left."""
    db = tmp_path / "state.db"
    before = _three_steps(artifacts, db)
    db.write_bytes(b"garbage" + db.read_bytes()[7:])
    with StateStore(db) as store:
        assert store.recovered is not None and "header" in store.recovered
        assert state_of(store.snapshot()) == state_of(before)
    db.unlink()
    with StateStore(db) as store:
        assert store.recovered is not None and "missing" in store.recovered
        assert state_of(store.snapshot()) == state_of(before)
    with StateStore(db) as store:  # healthy now: nothing to say
        assert store.recovered is None


def test_damage_found_while_the_store_is_open_is_repaired(artifacts: Path, tmp_path: Path) -> None:
    """Issue 12.2: a query raising DatabaseError (not only opening) triggers the repair, then retries."""
    db = tmp_path / "state.db"
    with StateStore(db) as store:
        store.ingest(artifacts / "run1")
        want = state_of(store.snapshot())
        with open(db, "r+b") as fh:
            fh.seek(4096 * 2)
            fh.write(b"\x00\x13" * 4096 * 2)
        store._db.execute("PRAGMA cache_size = 0")  # make sure pages come from the damaged file
        store._db.close()
        store._db = store._connect()
        rep = store.ingest(artifacts / "run2")
        assert store.recovered is not None and "rebuilt it from 1 kept run(s)" in store.recovered
        assert rep.built == 3  # the new run landed on the rebuilt store
        assert state_of(store.snapshot()) != want
        assert [o for _, _, o in store_runs(db)] == [str(artifacts / "run1"), str(artifacts / "run2")]


def test_not_a_store_and_nothing_kept_is_refused_untouched(tmp_path: Path) -> None:
    junk = tmp_path / "notes.db"
    junk.write_text("not a database" * 50)
    with pytest.raises(StateStoreError, match="no kept runs") as err:
        StateStore(junk)
    assert "delete" not in str(err.value)
    assert junk.read_text() == "not a database" * 50 and not list(tmp_path.glob("notes.db.*"))


def test_verify_and_rebuild_commands(
    artifacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 12.3: `freshlens state verify` (exit 0/1) and `freshlens state rebuild`."""
    db = tmp_path / "state.db"
    before = _three_steps(artifacts, db)
    assert main(["state", "verify", "--state", str(db)]) == 0
    assert "3 run(s) and clear(s)" in capsys.readouterr().out

    assert main(["state", "rebuild", "--state", str(db)]) == 0
    out = capsys.readouterr().out
    assert "rebuilt from 3 kept run(s)" in out
    assert len(list(tmp_path.glob("state.db.pre-rebuild-*"))) == 1
    with StateStore(db) as store:
        assert state_of(store.snapshot()) == state_of(before)

    kept = sorted(runs_dir_for(db).iterdir())
    tampered = kept[0] / "run_results.json.gz"
    tampered.write_bytes(gzip.compress(b"{}"))
    assert main(["state", "verify", "--state", str(db)]) == 1
    assert "does not match the SHA-256" in capsys.readouterr().out
    assert main(["state", "rebuild", "--state", str(db)]) == 1  # refused: it would lose that run
    assert "not rebuilt" in capsys.readouterr().err
    with StateStore(db) as store:
        assert state_of(store.snapshot()) == state_of(before)

    shutil.rmtree(kept[0])
    assert main(["state", "verify", "--state", str(db)]) == 1
    assert "kept copy is missing" in capsys.readouterr().out
    assert main(["state", "verify", "--state", str(tmp_path / "none.db")]) == 2


def test_a_store_from_before_kept_runs_is_upgraded_and_verify_says_what_is_not_kept(
    artifacts: Path, tmp_path: Path
) -> None:
    db = tmp_path / "state.db"
    with StateStore(db) as store:
        store.ingest(artifacts / "run1")
    shutil.rmtree(runs_dir_for(db))
    con = sqlite3.connect(db)
    con.execute("DROP TABLE runs")
    con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with StateStore(db) as store:
        report = store.verify()
        assert not report.ok and "ingested before freshlens kept runs" in report.text()
        with pytest.raises(StateStoreError, match="would lose history"):
            store.rebuild()
        again = store.ingest(artifacts / "run1")  # the fix the message gives
        assert not again.changed
        assert store.verify().ok


def test_ingest_killed_at_random_points_leaves_before_or_after(artifacts: Path, tmp_path: Path) -> None:
    """Issue 12.4: SIGKILL a real ingesting process at random delays; the store is as before or as after."""
    base = tmp_path / "base"
    base.mkdir()
    run2 = copy_run("run2", tmp_path / "run2")
    with StateStore(base / "state.db") as store:
        store.ingest(artifacts / "run1")
        before = state_of(store.snapshot())
    runs_before = store_runs(base / "state.db")

    # A full run first: the "after" state, and how long the ingest itself takes.
    ref = tmp_path / "ref"
    shutil.copytree(base, ref)
    p = worker(ref / "state.db", run2)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    took = float(out.split()[-1])
    with StateStore(ref / "state.db") as store:
        after = state_of(store.snapshot())
    runs_after = store_runs(ref / "state.db")
    assert len(runs_after) == len(runs_before) + 1 and after != before

    rng = random.Random(12)
    delays = [0.0, *(rng.uniform(0, took * 1.2) for _ in range(7))]
    outcomes = []
    for i, delay in enumerate(delays):
        case = tmp_path / f"kill{i}"
        shutil.copytree(base, case)
        p = worker(case / "state.db", run2)
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=30)
        with StateStore(case / "state.db") as store:
            assert store.recovered is None  # a kill never damages the file
            got = state_of(store.snapshot())
            runs = store_runs(case / "state.db")
            report = store.verify()
        assert report.ok, (delay, report.text())
        if runs == runs_before:
            assert got == before, delay
            outcomes.append("before")
        else:
            assert runs == runs_after and got == after, delay
            outcomes.append("after")
        kept = [c for c in runs_dir_for(case / "state.db").iterdir()]
        assert len(kept) == len(runs), (delay, kept)  # no half-kept or uncommitted run left behind
    print("ingest took", took, "s; kills:", list(zip(delays, outcomes, strict=True)))
    assert "before" in outcomes  # the kill at 0 s lands before the ingest


# The same, killing itself at a chosen point of the ingest (the windows a random delay rarely hits).
KILL_AT = """
import os, signal, sys
import freshlens.state.archive as archive
from freshlens.state import StateStore
db, run, point = sys.argv[1], sys.argv[2], sys.argv[3]

def die(*_a, **_k):
    os.kill(os.getpid(), signal.SIGKILL)

if point == "before_keep":  # database rows written, nothing kept yet
    archive.RunArchive.keep_run = die
elif point == "inside_keep":  # kept files written to the temporary folder, not renamed into place
    archive.os.replace = die
elif point == "before_commit":  # kept run in place, transaction not committed
    StateStore._record = die
with StateStore(db) as store:
    store.ingest(run)
"""


@pytest.mark.parametrize("point", ["before_keep", "inside_keep", "before_commit"])
def test_ingest_killed_inside_the_keep_window_leaves_before(
    artifacts: Path, tmp_path: Path, point: str
) -> None:
    """Issue 12.4: a kill between writing the rows, keeping the run and committing leaves the store as
    before, with no half-kept or uncommitted kept run left once it is opened again."""
    db = tmp_path / "state.db"
    with StateStore(db) as store:
        store.ingest(artifacts / "run1")
        before = state_of(store.snapshot())
    runs_before = store_runs(db)
    early = StateStore(db)  # a process that had the store open before the kill (it has not swept)
    p = subprocess.run(
        [sys.executable, "-c", KILL_AT, str(db), str(artifacts / "run2"), point],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert p.returncode == -signal.SIGKILL, p.stderr
    left = sorted(c.name for c in runs_dir_for(db).iterdir())
    assert len(left) == (1 if point == "before_keep" else 2)  # what the kill left behind
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(db, copy / "state.db")
    shutil.copytree(runs_dir_for(db), runs_dir_for(copy / "state.db"))

    with StateStore(copy / "state.db") as store:  # opened afresh: what the kill left is removed
        assert store.verify().ok
        assert state_of(store.snapshot()) == before
    assert store_runs(copy / "state.db") == runs_before
    assert len(list(runs_dir_for(copy / "state.db").iterdir())) == 1

    with early:  # the earlier process ingests next: its kept run does not collide with the leftover
        assert state_of(early.snapshot()) == before
        assert early.ingest(artifacts / "run2").built == 3
        report = early.verify()
        assert report.ok, report.text()
    assert [s for s, _, _ in store_runs(db)] == [1, 2]
    assert len(list(runs_dir_for(db).iterdir())) == 2


def test_two_processes_ingesting_at_once_both_land(artifacts: Path, tmp_path: Path) -> None:
    """Issue 12.5: concurrent ingests into one (new) store serialize; none is lost."""
    with StateStore(tmp_path / "serial.db") as store:
        store.ingest(artifacts / "run1")
        store.ingest(artifacts / "run2")
        serial = store.snapshot()
    for round_ in range(2):
        db = tmp_path / f"together{round_}" / "state.db"
        db.parent.mkdir()
        start = time.time() + 1.5  # both are imported and waiting by then
        procs = [worker(db, artifacts / run, start) for run in ("run1", "run2")]
        for p in procs:
            out, err = p.communicate(timeout=30)
            assert p.returncode == 0, err
            assert out.startswith("ready")
        with StateStore(db) as store:
            assert sorted(o for _, _, o in store_runs(db)) == [
                str(artifacts / "run1"),
                str(artifacts / "run2"),
            ]
            assert store.verify().ok
            snap = store.snapshot()
        assert (snap.nodes, snap.sources) == (serial.nodes, serial.sources)
        assert len(list(runs_dir_for(db).iterdir())) == 2


def test_clear_stays_a_marker(artifacts: Path, tmp_path: Path) -> None:
    """Issue 12.6: a clear keeps its meaning (sao.md D15) and is kept, so a rebuild replays it."""
    db = tmp_path / "state.db"
    with StateStore(db) as store:
        store.ingest(artifacts / "run1")
        store.clear()
        late = store.ingest(artifacts / "run2")  # ran before the clear: not learned
        snap = store.snapshot()
    assert late.built == 0 and all(n.last_success_at is None for n in snap.nodes.values())
    clears = [c for c in runs_dir_for(db).iterdir() if c.name.endswith("-clear")]
    assert len(clears) == 1
    assert json.loads((clears[0] / "entry.json").read_text())["at"] == snap.cleared_at.strftime(
        "%Y-%m-%dT%H:%M:%S.%f+00:00"
    )
    os.remove(db)
    with StateStore(db) as store:
        rebuilt = store.snapshot()
    assert state_of(rebuilt) == state_of(snap)


OPEN_WORKER = """
import sys, time
from freshlens.state import StateStore
db, start = sys.argv[1], float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
with StateStore(db) as store:
    print(len(store.snapshot().nodes), store.recovered is not None, flush=True)
"""


def test_two_processes_finding_the_same_damage_repair_it_once(artifacts: Path, tmp_path: Path) -> None:
    """Issue 12.2: concurrent opens of a damaged store: one moves it aside and rebuilds, the other waits."""
    db = tmp_path / "state.db"
    with StateStore(db) as store:
        store.ingest(artifacts / "run1")
        nodes = len(store.snapshot().nodes)
    db.write_bytes(b"\0" * 16 + db.read_bytes()[16:])
    start = time.time() + 1.5
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_WORKER, str(db), str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
        outs.append(out.split())
    assert sorted(outs) == [[str(nodes), "False"], [str(nodes), "True"]]  # exactly one repaired it
    assert len(list(tmp_path.glob("state.db.corrupt-*"))) == 1


def test_an_open_store_writes_to_the_rebuilt_file(artifacts: Path, tmp_path: Path) -> None:
    """Issue 12.3: a store opened before `state rebuild` swapped the file ingests into the new file."""
    db = tmp_path / "state.db"
    with StateStore(db) as store:
        store.ingest(artifacts / "run1")
    opened_before = StateStore(db)
    with StateStore(db) as other:
        assert "rebuilt from 1 kept run(s)" in other.rebuild()
    with opened_before:
        assert opened_before.ingest(artifacts / "run2").built == 3
    with StateStore(db) as store:
        assert store.verify().ok
        assert [o for _, _, o in store_runs(db)] == [str(artifacts / "run1"), str(artifacts / "run2")]
    aside = next(tmp_path.glob("state.db.pre-rebuild-*"))
    assert len(store_runs(aside)) == 1  # nothing was written to the file moved aside


def test_load_state_rebuilds_a_deleted_store_from_its_kept_runs(artifacts: Path, tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with StateStore(db) as store:
        store.ingest(artifacts / "run1")
        want = state_of(store.snapshot())
    db.unlink()
    assert state_of(load_state(db)) == want


def test_a_plan_says_when_its_store_was_rebuilt(artifacts: Path, tmp_path: Path) -> None:
    """Issue 12.2: the repair message reaches the plan's problems (the CLI and the editor's status show them)."""
    from freshlens.state.store import load_state

    db = tmp_path / "state.db"
    _three_steps(artifacts, db)
    db.write_bytes(b"garbage" + db.read_bytes()[7:])
    snap = load_state(db)
    assert snap.notice is not None and "header" in snap.notice
    assert load_state(db).notice is None  # repaired once: the next open has nothing to say
