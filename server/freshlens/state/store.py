"""The state store: an SQLite file (or a PostgreSQL database) that accumulates what each production run built, and from what.

A model reused (or not selected) in a later run does not appear as built in that run's artifacts, so
the last real build of every node has to be remembered across runs. ``StateStore.ingest(dir)`` reads
one run's artifacts directory — ``run_results.json`` with the same run's ``manifest.json``,
``sources.json`` (or dbt v2's ``freshness.json``), ``catalog.json``, any of them optional but the
manifest beside run results — validates all of it, then merges it in, in a single transaction; what
each artifact writes into which table is :mod:`freshlens.state.ingest`'s part.

Guarantees: ingesting the same artifacts twice changes nothing (keyed on invocation id + generated_at);
an older run ingested after a newer one never moves a build time or a status backwards; a failure
mid-ingest, or a process killed mid-ingest, rolls everything back. ``clear()`` forgets every node's build
state (the next predicted run builds everything, spec sao.md D15) and records when; builds from before
that time are not re-learned.

History is never lost: every ingest keeps the artifacts it read, and every clear a marker, beside the
store (``state.db.runs/``, see :mod:`freshlens.state.archive`), written before the transaction commits.
Opening a store checks the SQLite header (16 bytes; always). When the file is missing while kept runs
exist, or opening or a query fails with a database error (then ``PRAGMA quick_check`` confirms it, a
read of the whole file, paid only on that path), the damaged file is moved aside
(``state.db.corrupt-<time>``) and the store is rebuilt from the kept runs in their original order;
:attr:`StateStore.recovered` says so, for the CLI and the language server to show. Writers serialize
(``BEGIN IMMEDIATE`` with a busy timeout), so two processes ingesting at once both land.

Public API::

    default_state_path(project_root) -> Path            # <project>/.freshlens/state.db
    StateStore(path)                                      # creates the file and parent dirs
    StateStore.ingest(directory, origin=None) -> IngestReport
    StateStore.clear() -> None
    StateStore.snapshot() -> StateSnapshot
    StateStore.verify() -> VerifyReport                   # integrity + kept runs match the store's runs
    StateStore.rebuild() -> str                           # rebuild from the kept runs; says what it did
    StateStore.recovered -> str | None                    # set when opening repaired a damaged store
    StateStore.close()
    load_state(path_or_dir) -> StateSnapshot              # a .db file, a URL, or an artifacts dir (in memory)
    open_store(path_or_url, migrate=False) -> StateStore  # SQLite file, or PostgreSQL for postgresql://

The same class, over a PostgreSQL connection, is the team store (:mod:`freshlens.state.postgres`): the SQL
here is the dialect both accept, with ``?`` placeholders and rows read by column name.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, cast

from freshlens.state import repair
from freshlens.state.archive import KeptEntry, RunArchive, runs_dir_for
from freshlens.state.artifacts import (
    ArtifactError,
    Catalog,
    Manifest,
    RunResults,
    SourcesArtifact,
    read_catalog,
    read_freshness_artifact,
    read_manifest,
    read_run_results,
)
from freshlens.state.backend import Connection, is_postgres_url, redact
from freshlens.state.ingest import IngestReport as IngestReport  # re-exported: it lived here
from freshlens.state.ingest import _ts, ingest_catalog, ingest_manifest, ingest_run, ingest_sources
from freshlens.state.reading import opt_time, read_snapshot
from freshlens.state.repair import (
    BUSY_TIMEOUT_S,
    Damaged,
    Replaced,
    StateStoreError,
    VerifyReport,
    header_damage,
    inode,
    is_damage,
    is_empty,
)
from freshlens.state.snapshot import StateSnapshot

# v2: the runs table (kept runs). v3: fingerprints written as JSON arrays (reading.fingerprint_to_json);
# rows written before stay objects and are read as such. An older SQLite store is upgraded in place.
SCHEMA_VERSION = 3
STATE_DIR = ".freshlens"
STATE_FILE = "state.db"
_T = TypeVar("_T")

# Source freshness artifacts of a run folder: dbt-core's / dbt source freshness', and dbt v2 dbt freshness'.
FRESHNESS_FILES = ("sources.json", "freshness.json")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ingested (
    kind TEXT NOT NULL,               -- run_results | sources | freshness | catalog | manifest
    invocation_id TEXT NOT NULL,
    generated_at TEXT NOT NULL,
    source_dir TEXT NOT NULL,
    ingested_at TEXT NOT NULL,
    PRIMARY KEY (kind, invocation_id, generated_at)
);
CREATE TABLE IF NOT EXISTS nodes (
    unique_id TEXT PRIMARY KEY,
    resource_type TEXT NOT NULL,
    name TEXT NOT NULL,
    original_file_path TEXT,
    depends_on TEXT NOT NULL DEFAULT '[]',   -- JSON list, from the newest manifest that listed the node
    described_at TEXT,                       -- generated_at of that run
    last_success_at TEXT,
    last_success_invocation_id TEXT,
    fingerprint TEXT,                        -- JSON NodeFingerprint of the build at last_success_at
    last_status TEXT,
    last_message TEXT,
    last_run_at TEXT,
    last_invocation_id TEXT
);
CREATE TABLE IF NOT EXISTS relations (
    unique_id TEXT PRIMARY KEY,
    relation_exists INTEGER NOT NULL,
    relation_type TEXT,
    observed_at TEXT NOT NULL,
    invocation_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sources (
    unique_id TEXT PRIMARY KEY,
    source_name TEXT NOT NULL,
    name TEXT NOT NULL,
    relation TEXT NOT NULL,                  -- JSON {database, schema, identifier, relation_name}
    loaded_at_field TEXT,
    loaded_at_query TEXT,
    freshness TEXT,                          -- JSON or NULL
    described_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS source_observations (
    source_id TEXT NOT NULL,
    invocation_id TEXT NOT NULL,
    generated_at TEXT NOT NULL,
    snapshotted_at TEXT,
    max_loaded_at TEXT,
    status TEXT NOT NULL,
    error TEXT,
    PRIMARY KEY (source_id, invocation_id)
);
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY,                 -- the order the store applied its ingests and clears in
    kind TEXT NOT NULL,                      -- ingest | clear
    name TEXT NOT NULL UNIQUE,               -- the kept entry's folder in <store>.runs/
    at TEXT NOT NULL,                        -- when it was applied
    origin TEXT,                             -- the run's folder or origin (ingest)
    artifacts TEXT NOT NULL DEFAULT '[]'     -- JSON ["kind:invocation_id:generated_at", ...] it held
);
"""


def default_state_path(project_root: str | Path) -> Path:
    """``<project>/.freshlens/state.db``."""
    return Path(project_root) / STATE_DIR / STATE_FILE


def _now() -> datetime:
    return datetime.now(UTC)


class StateStore:
    """The SQLite state store. ``path`` may be ``":memory:"`` (used by :func:`load_state` for directories)."""

    _db: Connection

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.recovered: str | None = None  # what opening did to repair a damaged store, for the user
        self.migrated_from: int | None = None  # the schema version opening moved the store forward from
        self.created = False  # opening created the store's tables
        self._stamp: str | None = None  # the time an ingest records (a replay keeps the original)
        self._archive: RunArchive | None = None
        self._inode: int | None = None
        if self.path == ":memory:":
            self._db = self._connect()
            self._init_schema()
            return
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._archive = RunArchive(runs_dir_for(self.path))
        self._open()

    # ---------------------------------------------------------------------------------- lifecycle

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        db.row_factory = sqlite3.Row
        return db

    def _open(self) -> None:
        """Open the file; repair it from the kept runs when it is missing or damaged (module docs)."""
        p = Path(self.path)
        if is_empty(p):
            if self._kept_names():
                self._recover("the store file is missing or empty")
                return
        else:
            damage = header_damage(p)
            if damage is not None:
                if not damage.startswith("not an SQLite") or self._kept_names():
                    self._recover(damage)
                    return
                raise StateStoreError(
                    f"{self.path}: cannot open the freshlens state store: {damage}, and no kept runs "
                    f"({runs_dir_for(self.path).name}) are beside it to rebuild it from. If it is not a "
                    "freshlens state.db, point --state elsewhere; otherwise move it away and run "
                    "`freshlens state ingest` for the runs you want back."
                )
        try:
            self._open_healthy()
        except Damaged as exc:
            self._recover(str(exc))

    def _open_healthy(self) -> None:
        """Connect, create or upgrade the schema, remove what an interrupted ingest left behind."""
        db = self._connect()
        try:
            self._db = db
            self._inode = inode(self.path)
            self._init_schema()
            self._sweep()
        except sqlite3.OperationalError as exc:  # locked, read-only, unreachable: not damage
            db.close()
            raise StateStoreError(
                f"{self.path}: cannot open the freshlens state store ({exc}). If another freshlens is "
                "writing to it, try again when it is done; otherwise check the file's permissions."
            ) from None
        except sqlite3.DatabaseError as exc:
            db.close()
            if is_damage(exc):
                raise Damaged(str(exc)) from None
            raise StateStoreError(f"{self.path}: cannot open the freshlens state store ({exc})") from None

    def _init_schema(self) -> None:
        row = None
        if self._has_table("meta"):
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is not None:
            found = int(row["value"])
            if found > SCHEMA_VERSION:
                raise StateStoreError(
                    f"{self.path}: this state store was written by a newer freshlens (schema v{found}); "
                    f"this freshlens reads v{SCHEMA_VERSION}. Upgrade freshlens, or use another --state file."
                )
            if found == SCHEMA_VERSION:
                return
            self.migrated_from = found  # an SQLite file is private to its user: upgraded on opening
        else:
            self.created = True
        with self._transaction():
            # executescript() would COMMIT on its own; run the statements inside our transaction.
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            if row is None:
                self._put_meta("created_at", _ts(_now()))
            self._put_meta("schema_version", str(SCHEMA_VERSION))

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if self._inode is not None and inode(self.path) != self._inode:
                # `state rebuild` swapped the file while we waited for the lock: write to the new one.
                raise Replaced()
            yield
        except BaseException:
            # A damaged file may refuse even this; the original error is what matters.
            with suppress(sqlite3.DatabaseError):
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _guard(self, action: Callable[[], _T]) -> _T:
        """Run ``action``; if the file turns out damaged (or was swapped), repair or reopen, then retry once."""
        try:
            return action()
        except Replaced:
            self._db.close()
            self._open()
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc) or self._archive is None:
                raise StateStoreError(
                    f"{self.path}: the state store failed ({exc}). If another freshlens is writing to it, "
                    "try again when it is done."
                ) from None
            self._db.close()
            self._recover(str(exc))
        return action()

    def _put_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def _has_table(self, name: str) -> bool:
        return bool(
            self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
            ).fetchone()
        )

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    def schema_report(self) -> str:
        """What opening did to the schema, for ``freshlens state migrate``."""
        if self.migrated_from is not None:
            return f"{self.path}: migrated the schema from v{self.migrated_from} to v{SCHEMA_VERSION}"
        if self.created:
            return f"{self.path}: created a new state store at schema v{SCHEMA_VERSION}"
        return f"{self.path}: schema v{SCHEMA_VERSION} is current; nothing to migrate"

    @property
    def cleared_at(self) -> datetime | None:
        return opt_time(self._meta("cleared_at"))

    # ------------------------------------------------------------------------------------- ingest

    def ingest(self, directory: str | Path, origin: str | None = None) -> IngestReport:
        """Merge one run's artifacts directory into the store (one transaction; see the module docs).

        ``origin`` says where the run came from when ``directory`` is only a download folder (e.g.
        ``dbt platform job 123, run 456`` or an ``s3://`` URL); it is recorded instead of the folder, and
        every step of one run should pass the same origin (its artifacts then count as one run).

        The artifacts read are kept beside the store (compressed) before the transaction commits.
        """
        return self._guard(lambda: self._ingest_dir(Path(directory), origin, None))

    def _ingest_dir(self, d: Path, origin: str | None, keep: KeptEntry | None) -> IngestReport:
        """Ingest one folder; ``keep`` is the kept entry being replayed by a rebuild (nothing is kept again)."""
        if not d.is_dir():
            raise ArtifactError(f"{d}: not a directory. Give the run's target/ directory (or a copy of it).")
        names = {n: d / n for n in ("manifest.json", "run_results.json", *FRESHNESS_FILES, "catalog.json")}
        present = {n for n, p in names.items() if p.is_file()}
        if not present:
            raise ArtifactError(
                f"{d}: no dbt artifacts found. Expected manifest.json + run_results.json from a dbt build, "
                "and/or sources.json from dbt source freshness (freshness.json from dbt v2's dbt freshness)."
            )
        if "run_results.json" in present and "manifest.json" not in present:
            raise ArtifactError(
                f"{d}: run_results.json without manifest.json. freshlens needs the same run's manifest to know "
                "what each node was built from; copy target/manifest.json from that run too."
            )
        # Read and validate everything before touching the database.
        manifest = read_manifest(names["manifest.json"]) if "manifest.json" in present else None
        run = read_run_results(names["run_results.json"]) if "run_results.json" in present else None
        # sources.json and, from dbt v2's `dbt freshness`, freshness.json (sources and model SLAs)
        freshness = [(n, read_freshness_artifact(names[n])) for n in FRESHNESS_FILES if n in present]
        catalog = read_catalog(names["catalog.json"]) if "catalog.json" in present else None

        report = IngestReport(directory=origin or str(d))
        metas = [
            (kind, art.meta)
            for kind, art in (
                ("run_results", run),
                *((name.split(".")[0], art) for name, art in freshness),
                ("manifest", manifest),
                ("catalog", catalog),
            )
            if art is not None
        ]
        keys = sorted(f"{kind}:{meta.invocation_id}:{_ts(meta.generated_at)}" for kind, meta in metas)
        self._stamp = keep.at if keep is not None else _ts(_now())
        try:
            with self._transaction():
                if manifest is not None:
                    self._ingest_manifest(manifest, report)
                if run is not None and manifest is not None:
                    self._ingest_run(run, manifest, report)
                for name, sources in freshness:
                    self._ingest_sources(sources, report, name)
                if catalog is not None:
                    self._ingest_catalog(catalog, manifest, report)
                if keep is not None:
                    self._record(keep, keys)
                elif self._archive is not None and self._needs_keeping(report, keys):
                    repair.drop_uncommitted(self)
                    dating = metas[0][1]  # run_results dates a run best (written when the build ends)
                    entry = self._archive.keep_run(
                        d,
                        sorted(present),
                        seq=self._next_seq(),
                        at=self._stamp,
                        origin=report.directory,
                        generated_at=dating.generated_at,
                        invocation_id=dating.invocation_id,
                    )
                    self._record(entry, keys)
        finally:
            self._stamp = None
        return report

    def _needs_keeping(self, report: IngestReport, keys: list[str]) -> bool:
        # Something new is kept; a repeat is not — unless the store learned it before runs were kept.
        if len(report.already_ingested) < len(report.read):
            return True
        return not set(keys) <= self._kept_artifacts()

    def _kept_artifacts(self) -> set[str]:
        kept: set[str] = set()
        for row in self._db.execute("SELECT artifacts FROM runs"):
            kept.update(json.loads(row[0]))
        return kept

    def _next_seq(self) -> int:
        return int(self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM runs").fetchone()[0])

    def _record(self, entry: KeptEntry, keys: list[str]) -> None:
        self._db.execute(
            "INSERT INTO runs (seq, kind, name, at, origin, artifacts) VALUES (?, ?, ?, ?, ?, ?)",
            (entry.seq, entry.kind, entry.name, entry.at, entry.origin, json.dumps(keys)),
        )

    def origins(self) -> set[str]:
        """Where the ingested runs came from (their folders, or the origins given to :meth:`ingest`)."""
        return {str(row[0]) for row in self._db.execute("SELECT DISTINCT source_dir FROM ingested")}

    # Each artifact's writes (freshlens.state.ingest), inside the transaction _ingest_dir opened.

    def _ingest_stamp(self) -> str:
        return self._stamp or _ts(_now())

    def _ingest_manifest(self, manifest: Manifest, report: IngestReport) -> None:
        ingest_manifest(self._db, manifest, report, self._ingest_stamp())

    def _ingest_run(self, run: RunResults, manifest: Manifest, report: IngestReport) -> None:
        ingest_run(self._db, run, manifest, report, self._ingest_stamp(), self.cleared_at)

    def _ingest_sources(self, sources: SourcesArtifact, report: IngestReport, name: str) -> None:
        ingest_sources(self._db, sources, report, name, self._ingest_stamp())

    def _ingest_catalog(self, catalog: Catalog, manifest: Manifest | None, report: IngestReport) -> None:
        ingest_catalog(self._db, catalog, manifest, report, self._ingest_stamp())

    # -------------------------------------------------------------------------------------- clear

    def clear(self) -> None:
        """Forget every node's build state ("Clear cache", D15). Source history is kept.

        The clear is kept as a marker among the kept runs, so a rebuild replays it at its place and time.
        """
        self._guard(self._clear_now)

    def _clear_now(self) -> None:
        at = _ts(_now())
        with self._transaction():
            self._clear_state(at)
            if self._archive is not None:
                repair.drop_uncommitted(self)
                self._record(self._archive.keep_clear(seq=self._next_seq(), at=at), [])

    def _clear_state(self, at: str) -> None:
        self._db.execute(
            "UPDATE nodes SET last_success_at = NULL, last_success_invocation_id = NULL, fingerprint = NULL, "
            "last_status = NULL, last_message = NULL, last_run_at = NULL, last_invocation_id = NULL"
        )
        self._db.execute("DELETE FROM relations WHERE unique_id NOT LIKE 'source.%'")
        self._put_meta("cleared_at", at)

    # ------------------------------------------------------------------------- kept runs, repair

    def _kept_names(self) -> set[str]:
        root = runs_dir_for(self.path)
        if not root.is_dir():
            return set()
        return {c.name for c in root.iterdir() if not c.name.startswith(".") and c.is_dir()}

    def _sweep(self) -> None:
        repair.sweep(self)

    def _recover(self, reason: str) -> None:
        repair.recover(self, reason)

    def _replay(self, entry: KeptEntry) -> None:
        """Apply one kept entry again (a rebuild), with its original time; nothing is kept anew."""
        assert self._archive is not None
        if entry.kind == "clear":
            with self._transaction():
                self._clear_state(entry.at)
                self._record(entry, [])
            return
        with tempfile.TemporaryDirectory(prefix="freshlens-replay-") as tmp:
            self._archive.extract(entry, Path(tmp))
            self._ingest_dir(Path(tmp), entry.origin, entry)

    def rebuild(self) -> str:
        """Rebuild the store from its kept runs; the current file is kept aside. Says what it did.

        Refused (nothing changes) when a kept run is missing or altered, or when the store holds runs
        ingested before freshlens kept runs: a rebuild would lose them.
        """
        return repair.rebuild(self)

    def verify(self) -> VerifyReport:
        """Check SQLite's integrity and that the kept runs are exactly the store's runs, unaltered."""
        return self._guard(lambda: repair.verify(self))

    # ----------------------------------------------------------------------------------- snapshot

    def snapshot(self) -> StateSnapshot:
        """Everything the planner needs, as plain frozen values."""
        return self._guard(self._snapshot)

    def _snapshot(self) -> StateSnapshot:
        return read_snapshot(self._tuples, self.path, self.cleared_at)

    def _tuples(self, sql: str) -> Iterable[Sequence[Any]]:
        """A query's rows as plain tuples: what the snapshot reads by position (faster than by name)."""
        cur = cast(sqlite3.Connection, self._db).cursor()  # the PostgreSQL store has its own
        cur.row_factory = None
        return cur.execute(sql)

    # -------------------------------------------------------------------------- freshlens run

    # Added for ``freshlens run`` (schema v1 stays: the tables are additive and created on first use
    # with CREATE TABLE IF NOT EXISTS, like the base schema; an older freshlens ignores them).
    _RUNNER_SCHEMA: tuple[str, ...] = (
        "CREATE TABLE IF NOT EXISTS runner_runs ("
        " run_id TEXT PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,"
        " regime TEXT NOT NULL, dbt_command TEXT, exit_code INTEGER NOT NULL,"
        " built INTEGER NOT NULL, reused INTEGER NOT NULL, failed INTEGER NOT NULL)",
        "CREATE TABLE IF NOT EXISTS runner_reused ("
        " run_id TEXT NOT NULL, unique_id TEXT NOT NULL, reason TEXT NOT NULL, rule TEXT,"
        " PRIMARY KEY (run_id, unique_id))",
    )

    def record_runner_run(
        self,
        run_id: str,
        started_at: datetime,
        regime: str,
        dbt_command: str | None,
        exit_code: int,
        counts: tuple[int, int, int],
        reused: dict[str, tuple[str, str]],
    ) -> int:
        """Record one ``freshlens run`` and the models it reused, with their reasons.

        ``reused`` maps a node id to ``(reason, rule)``; each known node gets status ``reused`` and the
        reason as its message, as a Fusion ``reused`` result would (its build time is untouched), unless
        a later run already reported on it. ``counts`` is (built, reused, failed). Returns how many node
        statuses changed. Recording the same ``run_id`` twice changes nothing.
        """
        finished = _now()
        at = _ts(finished)
        changed = 0
        with self._transaction():
            for statement in self._RUNNER_SCHEMA:
                self._db.execute(statement)
            cur = self._db.execute(
                "INSERT INTO runner_runs (run_id, started_at, finished_at, regime, dbt_command, "
                "exit_code, built, reused, failed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (run_id, _ts(started_at), at, regime, dbt_command, exit_code, *counts),
            )
            if cur.rowcount == 0:
                return 0
            for uid, (reason, rule) in sorted(reused.items()):
                self._db.execute(
                    "INSERT INTO runner_reused (run_id, unique_id, reason, rule) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (run_id, uid, reason, rule),
                )
                cur = self._db.execute(
                    "UPDATE nodes SET last_status = 'reused', last_message = ?, last_run_at = ?, "
                    "last_invocation_id = ? WHERE unique_id = ? AND (last_run_at IS NULL OR last_run_at <= ?)",
                    (reason, at, run_id, uid, at),
                )
                changed += cur.rowcount
        return changed

    def runner_runs(self) -> list[dict[str, Any]]:
        """The recorded ``freshlens run`` runs, oldest first, each with its reused models and reasons."""
        if not self._has_table("runner_runs"):
            return []
        out: list[dict[str, Any]] = []
        for row in self._db.execute("SELECT * FROM runner_runs ORDER BY finished_at, run_id").fetchall():
            run = dict(row)
            run["reused_models"] = {
                r["unique_id"]: r["reason"]
                for r in self._db.execute(
                    "SELECT unique_id, reason FROM runner_reused WHERE run_id = ? ORDER BY unique_id",
                    (row["run_id"],),
                )
            }
            out.append(run)
        return out


def open_store(target: str | Path, *, migrate: bool = False) -> StateStore:
    """The store a ``--state`` names: PostgreSQL for a ``postgresql://`` URL, else the SQLite file.

    ``migrate`` lets opening move an older PostgreSQL schema forward (``freshlens state migrate``); an
    SQLite file is upgraded on opening either way, as it always was.
    """
    t = str(target)
    if not is_postgres_url(t):
        return StateStore(t)
    try:
        from freshlens.state.postgres import PgStateStore
    except ImportError as exc:
        if not (exc.name or "").startswith("psycopg"):
            raise
        raise StateStoreError(
            f"{redact(t)}: a PostgreSQL state store needs the psycopg driver, which is not installed: "
            "pip install 'freshlens[postgres]'"
        ) from None
    return PgStateStore(t, migrate=migrate)


def load_state(path_or_dir: str | Path) -> StateSnapshot:
    """State for the planner from a ``state.db`` file or a PostgreSQL URL, or from one run's artifacts
    directory.

    A directory (``manifest.json`` + ``run_results.json`` [+ ``sources.json``, ``catalog.json``]) is read
    into an in-memory store and never written anywhere. A path that does not exist is an error (create a
    store with ``freshlens state ingest`` first), unless its kept runs are there: then it is rebuilt.
    """
    if is_postgres_url(str(path_or_dir)):
        with open_store(path_or_dir) as pg:
            return pg.snapshot()
    p = Path(path_or_dir)
    if p.is_dir():
        with StateStore(":memory:") as store:
            store.ingest(p)
            snap = store.snapshot()
        return StateSnapshot(
            origin=str(p),
            nodes=snap.nodes,
            sources=snap.sources,
            cleared_at=None,
            last_run_at=snap.last_run_at,
            last_run_source=snap.last_run_source,
        )
    if not p.is_file() and not runs_dir_for(p).is_dir():  # with kept runs, opening rebuilds it
        raise StateStoreError(
            f"{p}: no state store or artifacts directory here. Run `freshlens state ingest DIR` to create "
            "the store, or point --state at a directory holding manifest.json and run_results.json."
        )
    with StateStore(p) as store:
        snap = store.snapshot()
        return dataclasses.replace(snap, notice=store.recovered) if store.recovered else snap
