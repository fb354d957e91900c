"""Team state in PostgreSQL (issue 9): concurrent writers, killed writers, schema versions, messages.

Every test runs against a real PostgreSQL server (the session's throwaway cluster, tests/pgcluster.py)
and real processes: ``freshlens state ingest`` in subprocesses, killed with SIGKILL where a runner dies.
The behaviour both backends share (idempotent ingest, out-of-order runs, atomic ingest, clear …) is
tested on both in test_state_store.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from state_helpers import ARTIFACTS, dump, load, table_dump

from freshlens.cli import main
from freshlens.state import StateStoreError, load_state, open_store, redact
from freshlens.state.store import SCHEMA_VERSION

FRESHLENS = [sys.executable, "-m", "freshlens"]
_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def _shift(tree: Any, hours: int) -> Any:
    if isinstance(tree, dict):
        return {k: _shift(v, hours) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_shift(v, hours) for v in tree]
    if isinstance(tree, str) and _TS.match(tree):
        t = datetime.fromisoformat(tree.replace("Z", "+00:00")) + timedelta(hours=hours)
        return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return tree


def variant(dest: Path, k: int) -> Path:
    """run1 of the fixtures as another run: its own invocation ids, every time k hours later."""
    dest.mkdir(parents=True)
    for f in (ARTIFACTS / "run1").glob("*.json"):
        data = _shift(load(f), k)
        data["metadata"]["invocation_id"] = f"{data['metadata']['invocation_id']}-v{k}"
        dump(dest / f.name, data)
    return dest


def big_run(dest: Path, n: int) -> Path:
    """A synthetic run of ``n`` models (run1's stg_customers, cloned), manifest and run_results only."""
    dest.mkdir(parents=True)
    manifest, results = (
        load(ARTIFACTS / "run1" / "manifest.json"),
        load(ARTIFACTS / "run1" / "run_results.json"),
    )
    proto = manifest["nodes"]["model.tiny.stg_customers"]
    res = next(r for r in results["results"] if r["unique_id"] == "model.tiny.stg_customers")
    for i in range(n):
        uid = f"model.tiny.syn_{i}"
        manifest["nodes"][uid] = {**proto, "unique_id": uid, "name": f"syn_{i}", "alias": f"syn_{i}"}
        results["results"].append({**res, "unique_id": uid})
    results["metadata"]["invocation_id"] = manifest["metadata"]["invocation_id"] = "big-run"
    dump(dest / "manifest.json", manifest)
    dump(dest / "run_results.json", results)
    return dest


def ingest_proc(url: str, *dirs: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*FRESHLENS, "state", "ingest", *map(str, dirs), "--state", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as con:
        return [tuple(r) for r in con.execute(sql)]


def test_concurrent_ingests_from_two_processes_neither_lose_nor_double_a_build(
    pg_dsn: Callable[[], str], tmp_path: Path
) -> None:
    """Two runners ingest the same runs (in opposite orders) and one run each, at once: every run is
    applied exactly once, and the store ends as a serial ingest of all of them into SQLite does."""
    shared = [variant(tmp_path / f"shared{k}", k) for k in range(1, 7)]
    only_a, only_b = variant(tmp_path / "a", 10), variant(tmp_path / "b", 11)
    url = pg_dsn()
    with open_store(url):  # the schema exists before the race; creating it concurrently is tested apart
        pass
    a = ingest_proc(url, *shared, only_a)
    b = ingest_proc(url, only_b, *reversed(shared))
    outs = [p.communicate(timeout=120) for p in (a, b)]
    assert [a.returncode, b.returncode] == [0, 0], outs
    lines = [line for out, _ in outs for line in out.splitlines()]
    for d in shared:  # applied by one runner; the other found it already ingested
        said = [line for line in lines if line.startswith(f"{d}:")]
        assert len(said) == 2 and sum("already ingested" in line for line in said) == 1, said
    kinds = {f.stem for f in shared[0].glob("*.json")}
    counted = rows(url, "select kind, invocation_id, count(*) from ingested group by 1, 2")
    assert len(counted) == len(kinds) * 8 and all(n == 1 for *_, n in counted)  # no artifact twice
    # No build lost: every model's last build is the newest run's (only_b, 11 h later).
    newest = load(only_b / "run_results.json")["metadata"]["invocation_id"]
    built = rows(url, "select unique_id, last_success_invocation_id from nodes where resource_type = 'model'")
    assert built and all(inv == newest for _, inv in built), built
    serial = str(tmp_path / "serial.db")
    with open_store(serial) as store:
        for d in [*shared, only_a, only_b]:
            store.ingest(d)
        expected = store.snapshot()
    got = load_state(url)
    assert got.nodes == expected.nodes and got.sources == expected.sources


def test_a_runner_killed_mid_ingest_leaves_nothing_and_a_rerun_ingests_it_once(
    pg_dsn: Callable[[], str], tmp_path: Path
) -> None:
    """SIGKILL while the ingest holds its transaction (its advisory lock is granted): the server rolls
    it back, the store is as before and consistent, and ingesting the run again records it once."""
    url = pg_dsn()
    with open_store(url) as store:
        store.ingest(ARTIFACTS / "run1")
    before = table_dump(url)
    big = big_run(tmp_path / "big", 6000)
    proc = ingest_proc(url, big)
    try:
        deadline = time.monotonic() + 60
        holder: list[tuple[Any, ...]] = []
        while not holder and time.monotonic() < deadline and proc.poll() is None:
            holder = rows(url, "select pid from pg_locks where locktype = 'advisory' and granted")
            time.sleep(0.01)
        assert holder, f"the ingest never took the writer lock: {proc.communicate()}"
        time.sleep(0.2)  # well inside the transaction: thousands of rows written, none committed
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL, "the ingest finished before it was killed: make big_run bigger"
    for _ in range(100):  # the server notices the dead client and releases its lock
        if not rows(url, "select 1 from pg_locks where locktype = 'advisory'"):
            break
        time.sleep(0.05)
    assert table_dump(url) == before
    with open_store(url) as store:
        assert store.verify().ok
        first = store.ingest(big)
        again = store.ingest(big)
    assert first.built == 6000  # the clones (stg_customers has the same build time as in run1)
    assert not again.changed and "already ingested" in again.summary()
    assert rows(url, "select count(*) from ingested where invocation_id = 'big-run'") == [(2,)]


def _downgrade(url: str, version: int) -> None:
    with psycopg.connect(url, autocommit=True) as con:
        if version < 2:
            con.execute("drop table runs")  # v2 added the runs table
        con.execute("update meta set value = %s where key = 'schema_version'", (str(version),))


def test_migrate_moves_an_older_schema_forward_only_when_asked(
    pg_dsn: Callable[[], str], capsys: pytest.CaptureFixture[str]
) -> None:
    """An older schema is refused with the command to run; ``state migrate`` brings it forward; a
    newer one asks to upgrade freshlens, and migrate refuses it too."""
    url = pg_dsn()
    with open_store(url) as store:
        store.ingest(ARTIFACTS / "run1")
    _downgrade(url, 1)
    with pytest.raises(
        StateStoreError,
        match=rf"schema v1; this freshlens needs v{SCHEMA_VERSION}\. Run `freshlens state migrate",
    ):
        open_store(url)
    assert rows(url, "select to_regclass('runs') is null") == [(True,)]  # not migrated behind our back
    assert main(["plan", str(ARTIFACTS / "tiny_project"), "--state", url]) == 0
    assert "freshlens state migrate" in capsys.readouterr().err
    assert main(["state", "migrate", "--state", url]) == 0
    assert f"migrated the schema from v1 to v{SCHEMA_VERSION}" in capsys.readouterr().out
    assert main(["state", "migrate", "--state", url]) == 0
    assert "nothing to migrate" in capsys.readouterr().out
    with open_store(url) as store:
        assert store.verify().ok and store.snapshot().nodes  # history kept across the migration
    _downgrade(url, SCHEMA_VERSION + 1)
    for args in (["state", "verify"], ["state", "migrate"]):
        assert main([*args, "--state", url]) == 1
        assert "newer freshlens" in capsys.readouterr().err


def test_migrate_on_sqlite_is_a_no_op_when_current_and_upgrades_a_v1_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SQLite keeps upgrading on open (a private file); ``state migrate`` reports what it did."""
    import sqlite3

    db = tmp_path / "s.db"
    assert main(["state", "migrate", "--state", str(db)]) == 2  # nothing there to migrate
    with open_store(db) as store:
        store.ingest(ARTIFACTS / "run1")
    assert main(["state", "migrate", "--state", str(db)]) == 0
    assert f"schema v{SCHEMA_VERSION} is current; nothing to migrate" in capsys.readouterr().out
    with sqlite3.connect(db) as con:
        con.execute("update meta set value = '1' where key = 'schema_version'")
    assert main(["state", "migrate", "--state", str(db)]) == 0
    assert f"migrated the schema from v1 to v{SCHEMA_VERSION}" in capsys.readouterr().out


def test_a_database_with_foreign_tables_is_not_taken_over(pg_dsn: Callable[[], str]) -> None:
    """Tables named like freshlens' without its schema version: refused, with where to go instead."""
    url = pg_dsn()
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("create table nodes (id int)")
    with pytest.raises(StateStoreError, match=r"not a freshlens state store.*search_path"):
        open_store(url)


def test_verify_checks_schema_and_consistency_and_rebuild_explains(
    pg_dsn: Callable[[], str], capsys: pytest.CaptureFixture[str]
) -> None:
    """verify: schema and consistency (exit 1 with what is wrong); rebuild: why there is none here."""
    url = pg_dsn()
    assert main(["state", "ingest", str(ARTIFACTS / "run1"), "--state", url]) == 0
    assert main(["state", "verify", "--state", url]) == 0
    assert "schema and consistency ok" in capsys.readouterr().out
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("update nodes set fingerprint = null where unique_id = 'model.tiny.stg_orders'")
        con.execute("alter table relations drop column relation_type")
    assert main(["state", "verify", "--state", url]) == 1
    assert "relations lacks column(s) relation_type" in capsys.readouterr().out
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("alter table relations add column relation_type text")
    assert main(["state", "verify", "--state", url]) == 1
    assert "1 node(s) with a build time but no fingerprint" in capsys.readouterr().out
    assert main(["state", "rebuild", "--state", url]) == 1
    assert "restore its backup" in capsys.readouterr().err


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a server hung or behind a black hole)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield int(s.getsockname()[1])


def test_connection_problems_say_what_to_do_and_never_show_the_password(
    pg_cluster: Any, silent_server: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unreachable server, unknown role, missing database, timeout: one clear line each, exit 1, no
    traceback, no hang, and the password in the URL is never printed."""
    pw = "s3cr3t-Pa55"
    base = f"postgresql://postgres:{pw}@127.0.0.1"
    cases = {
        f"{base}:{pg_cluster.port}/no_such_db": "does not exist on 127.0.0.1",
        f"postgresql://nobody:{pw}@127.0.0.1:{pg_cluster.port}/postgres": "refused the credentials",
        f"{base}:1/postgres": "cannot reach a PostgreSQL server at 127.0.0.1:1",
        f"{base}:{silent_server}/postgres?connect_timeout=1": "no answer from the PostgreSQL server",
    }
    for url, expected in cases.items():
        t0 = time.monotonic()
        assert main(["state", "verify", "--state", url]) == 1, url
        out, err = capsys.readouterr()
        assert time.monotonic() - t0 < 10
        assert expected in err and "Traceback" not in err, err
        assert pw not in out + err and ":***@" in err, err
    # the plan shows the problem as a warning and its origin line without the password
    url = f"{base}:1/postgres"
    assert main(["plan", str(ARTIFACTS / "tiny_project"), "--state", url]) == 0
    out, err = capsys.readouterr()
    assert f"state: {redact(url)};" in out and "cannot reach" in err and pw not in out + err


def test_redact_hides_passwords_in_every_url_form() -> None:
    """The user-part password and a password= parameter are masked; the rest is kept to debug by."""
    assert redact("postgres://u:p@h/db") == "postgres://u:***@h/db"
    assert redact("postgresql://u@h:5433/db?password=p&sslmode=require") == (
        "postgresql://u@h:5433/db?password=***&sslmode=require"
    )
    assert redact("postgresql://h/db") == "postgresql://h/db"
    assert redact("/srv/state.db") == "/srv/state.db"


def test_plan_reads_state_from_postgresql_as_from_the_sqlite_file(
    pg_dsn: Callable[[], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``freshlens plan --state postgresql://…`` decides exactly as with the same runs in SQLite."""
    url, db = pg_dsn(), str(tmp_path / "s.db")
    for target in (url, db):
        for run in ("run1", "run2"):
            assert main(["state", "ingest", str(ARTIFACTS / run), "--state", target]) == 0
    capsys.readouterr()
    plans = []
    for target in (url, db):
        args = ["plan", str(ARTIFACTS / "tiny_project"), "--state", target, "--regime", "sao"]
        assert main([*args, "--at", "2026-11-25T14:42:18Z", "--format", "json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        plans.append({m["name"]: (m["action"], m["rule"], m["reason"]) for m in doc["models"]})
        assert doc["state"] == redact(target)
    assert plans[0] == plans[1] and any(a == "reuse" for a, *_ in plans[0].values())


def test_the_first_use_of_an_empty_database_creates_the_schema_once(pg_dsn: Callable[[], str]) -> None:
    """Several processes opening a new database at once: one creates the tables, none fails."""
    url = pg_dsn()
    procs = [ingest_proc(url, ARTIFACTS / "run1") for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    assert sum("already ingested" in out for out, _ in outs) == 2
    assert rows(url, "select value from meta where key = 'schema_version'") == [(str(SCHEMA_VERSION),)]


def test_the_environment_supplies_credentials(pg_cluster: Any, pg_dsn: Callable[[], str]) -> None:
    """libpq's variables (PGHOST, PGPORT, PGUSER, PGDATABASE) complete a bare ``postgresql://``."""
    url = pg_dsn()
    dbname = url.rsplit("/", 1)[1]
    env = {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": str(pg_cluster.port), "PGUSER": "postgres"}
    env["PGDATABASE"] = dbname
    out = subprocess.run(
        [*FRESHLENS, "state", "ingest", str(ARTIFACTS / "run1"), "--state", "postgresql://"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert load_state(url).nodes
