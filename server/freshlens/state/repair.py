"""Repairing and checking the state store against its kept runs (see :mod:`freshlens.state.archive`).

Used by :class:`~freshlens.state.store.StateStore`: the sweep of what an interrupted ingest left, the
repair of a damaged or missing store file (moved aside, rebuilt from the kept runs in their order),
``verify`` and ``rebuild``, and the file-level helpers they share.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from freshlens.state.archive import runs_dir_for
from freshlens.state.artifacts import StateError

if TYPE_CHECKING:
    from freshlens.state.store import StateStore

SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_S = 60.0  # how long a writer waits for another process's ingest to commit

log = logging.getLogger("freshlens.state")


class StateStoreError(StateError):
    """The state database cannot be used (newer schema, not a database, locked …)."""


def sweep(store: StateStore) -> None:
    """Remove kept entries of ingests that never committed (their process was killed before it).

    Such an entry has a ``seq`` above the store's newest. The check is a folder listing and one
    query; entries are only read and removed while holding the write lock, when no ingest can be
    between its keep and its commit.
    """
    if _uncommitted_suspected(store):
        with store._transaction():
            drop_uncommitted(store)


def _uncommitted_suspected(store: StateStore) -> bool:
    if store._archive is None:
        return False
    known = {str(r[0]) for r in store._db.execute("SELECT name FROM runs")}
    return bool(store._kept_names() - known) or bool(store._archive.leftovers())


def drop_uncommitted(store: StateStore) -> None:
    """The removal itself; the caller holds the write lock (also called before keeping a new run, so
    a new entry never shares its ``seq`` with one left behind)."""
    if store._archive is None or not _uncommitted_suspected(store):
        return
    top = store._next_seq() - 1
    entries, _ = store._archive.scan()
    for entry in entries:
        if entry.seq > top:
            log.info("%s: removing %s, kept by an ingest that never committed", store.path, entry.name)
            store._archive.remove(entry.name)
    for name in store._archive.leftovers():
        store._archive.remove(name)


def recover(store: StateStore, reason: str) -> None:
    """Move a damaged store aside and rebuild it from the kept runs (another process may have already)."""
    assert store._archive is not None
    with file_lock(f"{store.path}.lock"):
        damage = probe(store)
        if damage is None:  # repaired by another process while we waited for the lock, or not damage
            try:
                store._open_healthy()
            except Damaged:
                raise StateStoreError(
                    f"{store.path}: cannot use the freshlens state store ({reason}), although SQLite finds "
                    "the file intact. Check that it is a freshlens state.db; `freshlens state rebuild "
                    "--state` it to rebuild it from its kept runs."
                ) from None
            return
        replayed, skipped, aside = build_from_kept(store, "corrupt", strict=False)
        store._open_healthy()
    kept = runs_dir_for(store.path).name
    if aside is None:
        msg = f"{store.path}: {damage}; freshlens rebuilt it from {replayed} kept run(s) in {kept}/."
    else:
        msg = (
            f"{store.path}: the state store was damaged ({damage}); freshlens moved it to {aside.name} "
            f"and rebuilt it from {replayed} kept run(s) in {kept}/."
        )
    if skipped:
        msg += f" Not replayed, because unreadable: {'; '.join(skipped)}."
    if replayed == 0:
        msg += " No runs were kept: run `freshlens state ingest` for the runs you want back."
    store.recovered = msg
    log.warning("%s", msg)


def probe(store: StateStore) -> str | None:
    """What is wrong with the file, or None when it is a healthy store (PRAGMA quick_check)."""
    p = Path(store.path)
    if is_empty(p):
        return "the store file is missing or empty" if store._kept_names() else None
    damage = header_damage(p)
    if damage is not None:
        return damage
    db = sqlite3.connect(store.path, timeout=BUSY_TIMEOUT_S)
    try:
        rows = [str(r[0]) for r in db.execute("PRAGMA quick_check").fetchall()]
    except sqlite3.OperationalError as exc:  # busy or unreachable: not damage
        raise StateStoreError(
            f"{store.path}: cannot check the state store ({exc}); try again when no other freshlens "
            "is writing to it"
        ) from None
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        db.close()
    return None if rows == ["ok"] else "; ".join(rows[:3])


def build_from_kept(store: StateStore, label: str, *, strict: bool) -> tuple[int, list[str], Path | None]:
    """Write a new store from the kept runs, in their order; move the current file aside as
    ``<store>.<label>-<time>`` (returned; None when there was none) and put the new one in its place.

    With ``strict`` an unreadable entry stops the rebuild (nothing is replaced); otherwise it is
    skipped and named in the returned list.
    """
    assert store._archive is not None
    tmp = f"{store.path}.rebuild-{os.getpid()}"
    remove_db_files(tmp)
    entries, problems = store._archive.scan()
    if strict and problems:
        raise StateStoreError("cannot rebuild: " + "; ".join(problems))
    skipped = list(problems)
    replayed = 0
    builder = type(store)(tmp)
    try:
        builder._archive = store._archive  # replays read the kept runs; they keep nothing again
        for entry in entries:
            try:
                builder._replay(entry)
                replayed += 1
            except StateError as exc:
                if strict:
                    raise StateStoreError(f"cannot rebuild: kept run {entry.name}: {exc}") from None
                skipped.append(f"{entry.name} ({exc})")
    except BaseException:
        builder.close()
        remove_db_files(tmp)
        raise
    builder.close()
    aside = None if is_empty(Path(store.path)) else move_aside(store.path, label)
    os.replace(tmp, store.path)
    remove_db_files(f"{tmp}.runs")
    return replayed, skipped, aside


def rebuild(store: StateStore) -> str:
    """Rebuild the store from its kept runs; the current file is kept aside. Says what it did.

    Refused (nothing changes) when a kept run is unreadable, or when the store holds runs that were
    ingested before freshlens kept runs: a rebuild would lose them.
    """
    if store._archive is None:
        raise StateStoreError("an in-memory state store has no kept runs to rebuild from")
    report = store.verify()
    blocking = [p for p in report.problems if not p.startswith("integrity")]
    if blocking:
        raise StateStoreError(f"{store.path}: not rebuilt, it would lose history: " + " ".join(blocking))
    with file_lock(f"{store.path}.lock"):
        store._db.execute("BEGIN IMMEDIATE")  # no ingest commits to the old file meanwhile
        try:
            replayed, _, aside = build_from_kept(store, "pre-rebuild", strict=True)
        finally:
            store._db.execute("ROLLBACK")
        store._db.close()
        store._open_healthy()
    return (
        f"{store.path}: rebuilt from {replayed} kept run(s) in {runs_dir_for(store.path).name}/; "
        f"the previous file is {'gone' if aside is None else aside.name}"
    )


def verify(store: StateStore) -> VerifyReport:
    """Check SQLite's integrity and that the kept runs are exactly the store's runs, unaltered."""
    rep = VerifyReport(store=store.path, kept=runs_dir_for(store.path).name if store._archive else "")
    rows = [str(r[0]) for r in store._db.execute("PRAGMA integrity_check").fetchall()]
    if rows != ["ok"]:
        rep.problems.append("integrity: " + "; ".join(rows[:5]) + " — run `freshlens state rebuild`")
    runs = {
        str(r["name"]): (int(r["seq"]), str(r["kind"]))
        for r in store._db.execute("SELECT name, seq, kind FROM runs")
    }
    rep.runs = len(runs)
    if store._archive is not None:
        entries, bad = store._archive.scan()
        rep.problems.extend(bad)
        by_name = {e.name: e for e in entries}
        for name, (seq, kind) in sorted(runs.items(), key=lambda t: t[1][0]):
            entry = by_name.get(name)
            if entry is None:
                rep.problems.append(
                    f"{kind} #{seq} ({name}) is in the store but its kept copy is missing: "
                    "a rebuild would lose it"
                )
            elif (entry.seq, entry.kind) != (seq, kind):
                rep.problems.append(f"{name}: kept as {entry.kind} #{entry.seq}, stored as {kind} #{seq}")
            else:
                rep.problems.extend(store._archive.check(entry))
        for name in sorted(set(by_name) - set(runs)):
            rep.problems.append(f"{name}: kept, but not in the store (was the store replaced?)")
    legacy = unkept_artifacts(store)
    if legacy:
        rep.problems.append(
            f"{len(legacy)} artifact(s) were ingested before freshlens kept runs (e.g. {legacy[0]}); "
            "a rebuild would lose them: ingest those run folders again to keep them"
        )
    return rep


def unkept_artifacts(store: StateStore) -> list[str]:
    if store._archive is None:
        return []
    kept = store._kept_artifacts()
    rows = store._db.execute("SELECT kind, invocation_id, generated_at, source_dir FROM ingested")
    return sorted(
        f"{r['kind']} of {r['source_dir']}"
        for r in rows
        if f"{r['kind']}:{r['invocation_id']}:{r['generated_at']}" not in kept
    )


@dataclass(slots=True)
class VerifyReport:
    """What ``freshlens state verify`` found; ``ok`` when there is no problem."""

    store: str
    kept: str  # the kept-runs folder's name
    runs: int = 0  # ingests and clears the store holds
    problems: list[str] = field(default_factory=list)
    summary: str = ""  # the line for a healthy store when it keeps no runs (PostgreSQL)

    @property
    def ok(self) -> bool:
        return not self.problems

    def text(self) -> str:
        head = f"{self.store}: {self.runs} run(s) and clear(s), each kept in {self.kept}/"
        if self.ok and self.summary:
            return self.summary
        if self.ok:
            return f"{head}; integrity ok"
        return "\n".join(
            [f"{self.store}: {len(self.problems)} problem(s)", *(f"  - {p}" for p in self.problems)]
        )


class Damaged(Exception):
    """Opening or a query failed with a database error that is not a lock or an I/O problem."""


class Replaced(Exception):
    """The store file was swapped (``state rebuild``) after this connection opened it."""


_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26


def is_damage(exc: sqlite3.DatabaseError) -> bool:
    """A damaged file (SQLITE_CORRUPT / SQLITE_NOTADB), not a lock, an I/O error or a constraint."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    return type(exc) is sqlite3.DatabaseError


def is_empty(p: Path) -> bool:
    try:
        return p.stat().st_size == 0
    except FileNotFoundError:
        return True


def header_damage(p: Path) -> str | None:
    """The cheap check on every open: the file starts with SQLite's 100-byte header."""
    try:
        with open(p, "rb") as fh:
            head = fh.read(100)
    except OSError:
        return None  # unreadable: SQLite will say why when it opens it
    if not head.startswith(SQLITE_MAGIC):
        return "not an SQLite database (its header is wrong)"
    if len(head) < 100:
        return "truncated inside the SQLite header"
    return None


def inode(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


SIDE_FILES = ("-journal", "-wal", "-shm")


def move_aside(path: str, label: str) -> Path:
    """``state.db`` -> ``state.db.<label>-<time>``, with its journal: a journal belongs to its file, and
    left behind it would be rolled into the new store."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside, n = Path(f"{path}.{label}-{stamp}"), 1
    while aside.exists():
        n += 1
        aside = Path(f"{path}.{label}-{stamp}-{n}")
    for side in SIDE_FILES:
        if os.path.exists(path + side):
            os.replace(path + side, f"{aside}{side}")
    os.replace(path, aside)
    return aside


def remove_db_files(path: str) -> None:
    for p in (path, *(path + side for side in SIDE_FILES)):
        if os.path.isdir(p):
            shutil.rmtree(p, ignore_errors=True)
        elif os.path.exists(p):
            os.remove(p)


@contextmanager
def file_lock(path: str) -> Iterator[None]:
    """One repair or rebuild at a time per store, across processes (POSIX ``flock``)."""
    try:
        import fcntl
    except ImportError:  # Windows: repairs are rare; two at once would each keep a full copy aside
        yield
        return
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
