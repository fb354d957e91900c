"""The state store in PostgreSQL: one history shared by CI runners, orchestrators and editors.

``--state postgresql://user@host:5432/db`` (or ``postgres://…``, or the editor's ``freshlens.state``)
opens :class:`PgStateStore`. It runs the same ingest, clear and snapshot code as the SQLite store
(:class:`~freshlens.state.store.StateStore`) over the same tables — every ``TEXT`` column collated
``"C"`` so that times and ids compare and sort byte-wise, as in SQLite — with these differences:

* **Writers serialize on an advisory lock.** Every write (an ingest, a clear, a recorded
  ``freshlens run``) is one transaction that first takes ``pg_advisory_xact_lock`` on a key of the
  store's schema, so runners on several machines apply their ingests one after the other; the
  invocation-id claim makes a repeated ingest change nothing, and a writer that dies (killed, its
  machine lost) leaves nothing behind: the server rolls its transaction back. A writer waits at most
  ``lock_timeout`` (60 s) for another, then says so.
* **Reads are consistent.** A snapshot is read in one ``REPEATABLE READ, READ ONLY`` transaction.
* **Schema versions move forward only when asked.** A database without freshlens' tables gets them
  on first use; one at an older schema version is refused until someone runs ``freshlens state
  migrate`` (a shared database is never migrated behind its other users' backs); a newer one asks to
  upgrade freshlens.
* **No kept runs.** PostgreSQL's own durability (WAL, backups, replicas) is what protects a shared
  database; ``verify`` checks the schema and the store's consistency, and ``rebuild`` explains that
  recovery is a restore from the database's backup.

Credentials come from the URL or libpq's environment (``PGPASSWORD``, ``PGHOST``, ``~/.pgpass`` …);
a password never appears in a message (:func:`freshlens.state.backend.redact`). Connecting gives up
after ``connect_timeout`` (10 s unless the URL or ``PGCONNECT_TIMEOUT`` says otherwise).
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pgerr
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import tuple_row

from freshlens.state.backend import redact, scrub
from freshlens.state.ingest import _ts
from freshlens.state.repair import BUSY_TIMEOUT_S, StateStoreError, VerifyReport
from freshlens.state.snapshot import StateSnapshot
from freshlens.state.store import _SCHEMA, SCHEMA_VERSION, StateStore, _now

CONNECT_TIMEOUT_S = 10
LOCK_TIMEOUT_S = BUSY_TIMEOUT_S  # as long as an SQLite writer waits for another
APPLICATION_NAME = "freshlens"  # what pg_stat_activity shows for freshlens' sessions
LOCK_KEY = "freshlens-state:"  # + current_schema(): one writer lock per store

_T = TypeVar("_T")


def _collated(ddl: str) -> str:
    return re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', ddl)


PG_SCHEMA = [s for s in _collated(_SCHEMA).split(";") if s.strip()]
RUNNER_SCHEMA = tuple(_collated(s) for s in StateStore._RUNNER_SCHEMA)


class Row:
    """A result row read by column name or position, as ``sqlite3.Row`` is (the shared code uses both)."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: dict[str, int], values: Sequence[Any]) -> None:
        self._index = index
        self._values = values

    def __getitem__(self, key: int | str) -> Any:
        return self._values[key if isinstance(key, int) else self._index[key]]

    def keys(self) -> list[str]:
        return list(self._index)


def _rows(cursor: psycopg.Cursor[Any]) -> Callable[[Sequence[Any]], Row]:
    index = {c.name: i for i, c in enumerate(cursor.description or ())}
    return lambda values: Row(index, values)


def _placeholders(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class PgConnection:
    """The shared SQL on psycopg: ``?`` placeholders become ``%s`` (a literal ``%`` is doubled)."""

    def __init__(self, raw: psycopg.Connection[Row]) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Sequence[Any] | None = None, /) -> psycopg.Cursor[Row]:
        if parameters is None:
            return self.raw.execute(sql)
        return self.raw.execute(_placeholders(sql), parameters)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> psycopg.Cursor[Row]:
        """One statement for every row of ``parameters``, pipelined: no round trip waited on per row."""
        cur = self.raw.cursor()
        cur.executemany(_placeholders(sql), parameters)
        return cur

    def close(self) -> None:
        self.raw.close()


def connect(url: str) -> psycopg.Connection[Row]:
    """Connect in autocommit mode (transactions are explicit); messages say what to do on failure."""
    label = redact(url)
    try:
        given = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise StateStoreError(
            f"{label}: not a valid PostgreSQL URL ({scrub(str(exc), url)}); the form is "
            "postgresql://USER@HOST:PORT/DATABASE (the password in PGPASSWORD or ~/.pgpass)"
        ) from None
    extra: dict[str, Any] = {}
    if "connect_timeout" not in given and not os.environ.get("PGCONNECT_TIMEOUT"):
        extra["connect_timeout"] = CONNECT_TIMEOUT_S
    if "application_name" not in given and not os.environ.get("PGAPPNAME"):
        extra["application_name"] = APPLICATION_NAME
    if "keepalives" not in given:  # a server that vanishes mid-query is noticed, not waited on forever
        extra.update(keepalives=1, keepalives_idle=30, keepalives_interval=10, keepalives_count=3)
    try:
        raw = psycopg.connect(make_conninfo(url, **extra), autocommit=True, row_factory=_rows)
    except psycopg.Error as exc:
        raise connect_error(exc, url) from None
    raw.execute(f"SET lock_timeout = '{int(LOCK_TIMEOUT_S)}s'")
    return raw


def connect_error(exc: psycopg.Error, url: str) -> StateStoreError:
    """The message for a failed connection: unreachable, refused credentials, no database, timeout."""
    label = redact(url)
    text = scrub(str(exc).strip(), url)
    low = text.lower()
    info = conninfo_to_dict(url)
    host = info.get("host") or os.environ.get("PGHOST") or "localhost"
    port = info.get("port") or os.environ.get("PGPORT") or "5432"
    dbname = info.get("dbname") or os.environ.get("PGDATABASE") or "(the user's name)"
    first = text.splitlines()[0] if text else type(exc).__name__
    if isinstance(exc, pgerr.ConnectionTimeout) or "timeout expired" in low:
        return StateStoreError(
            f"{label}: no answer from the PostgreSQL server at {host}:{port} within connect_timeout "
            f"({info.get('connect_timeout') or os.environ.get('PGCONNECT_TIMEOUT') or CONNECT_TIMEOUT_S} s). "
            "Check the host, the port and that a firewall lets this machine through; on a slow network "
            "raise it with ?connect_timeout=30 in the URL."
        )
    if "does not exist" in low and "database" in low:
        return StateStoreError(
            f"{label}: the database {dbname} does not exist on {host}:{port}. Create it once (createdb "
            f"{dbname}, or CREATE DATABASE {dbname}); freshlens creates its own tables in it."
        )
    if any(s in low for s in ("password", "authentication", "role", "pg_hba.conf", "permission denied")):
        return StateStoreError(
            f"{label}: the server at {host}:{port} refused the credentials ({first}). Check the user in "
            "the URL and the password (PGPASSWORD, ~/.pgpass, or the URL); never put it on a shared "
            "command line."
        )
    if any(
        s in low for s in ("connection refused", "could not connect", "resolve host", "translate host")
    ) or ("no such file" in low):
        return StateStoreError(
            f"{label}: cannot reach a PostgreSQL server at {host}:{port} ({first}). Check the host and "
            "port in the URL (or PGHOST/PGPORT) and that the server is running and accepts connections "
            "from this machine."
        )
    return StateStoreError(f"{label}: cannot connect to PostgreSQL ({first})")


class PgStateStore(StateStore):
    """The state store in a PostgreSQL database (module docs). ``migrate=True`` moves an older schema
    forward (``freshlens state migrate``); otherwise an older schema is refused with that advice."""

    _RUNNER_SCHEMA = RUNNER_SCHEMA

    def __init__(self, url: str, *, migrate: bool = False) -> None:
        self._url = url
        self.path = redact(url)  # what every message and the plan's origin show
        self.recovered = None
        self.migrated_from = None
        self.created = False
        self._stamp = None
        self._archive = None
        self._inode = None
        self._migrate = migrate
        self._raw = connect(url)
        self._db = PgConnection(self._raw)
        try:
            self._guard(self._init_schema)
        except BaseException:
            self._raw.close()
            raise

    # ----------------------------------------------------------------------- schema, versions

    def _has_table(self, name: str) -> bool:
        return self._db.execute("SELECT to_regclass(?) IS NOT NULL", (name,)).fetchone()[0] is True

    def _version(self) -> int | None:
        if not self._has_table("meta"):
            return None
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return None if row is None else int(row[0])

    def _init_schema(self) -> None:
        found = self._version()
        if found == SCHEMA_VERSION:
            return
        self._check_version(found)
        with self._transaction():  # under the writer lock: one process creates or migrates
            found = self._version()
            if found == SCHEMA_VERSION:
                return
            self._check_version(found)
            for statement in (*PG_SCHEMA, *RUNNER_SCHEMA):
                self._db.execute(statement)
            if found is None:
                self.created = True
                self._put_meta("created_at", _ts(_now()))
            else:
                self.migrated_from = found
            self._put_meta("schema_version", str(SCHEMA_VERSION))

    def _check_version(self, found: int | None) -> None:
        if found is None:
            stray = [t for t in ("nodes", "ingested", "sources") if self._has_table(t)]
            if stray:
                raise StateStoreError(
                    f"{self.path}: this database has tables named like freshlens' ({', '.join(stray)}) but no "
                    "freshlens schema version; it is not a freshlens state store. Give freshlens its own "
                    "database, or its own schema (?options=-csearch_path%3Dfreshlens in the URL)."
                )
            return
        if found > SCHEMA_VERSION:
            raise StateStoreError(
                f"{self.path}: this state store was written by a newer freshlens (schema v{found}); this "
                f"freshlens reads v{SCHEMA_VERSION}. Upgrade freshlens on this machine."
            )
        if found < SCHEMA_VERSION and not self._migrate:
            raise StateStoreError(
                f"{self.path}: this state store is at schema v{found}; this freshlens needs v{SCHEMA_VERSION}. "
                f"Run `freshlens state migrate --state {self.path}` once (every machine sharing it then "
                "needs this freshlens or newer); freshlens never migrates a shared database on its own."
            )

    # ------------------------------------------------------------------- transactions, errors

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._raw.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(hashtext(? || current_schema()))", (LOCK_KEY,))
            yield
            # Readers (the editor's cache) learn that the store changed from this counter.
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES ('generation', '1') ON CONFLICT (key) "
                "DO UPDATE SET value = CAST(CAST(meta.value AS BIGINT) + 1 AS TEXT)"
            )

    def _guard(self, action: Callable[[], _T]) -> _T:
        try:
            return action()
        except pgerr.LockNotAvailable:
            raise StateStoreError(
                f"{self.path}: another freshlens has been writing to the state store for over "
                f"{LOCK_TIMEOUT_S:.0f} s; try again when it is done (pg_stat_activity shows it as "
                f"application_name '{APPLICATION_NAME}')."
            ) from None
        except pgerr.InsufficientPrivilege as exc:
            raise StateStoreError(
                f"{self.path}: the role lacks a privilege ({scrub(str(exc).splitlines()[0], self._url)}). "
                "Readers need SELECT on freshlens' tables; writers also INSERT, UPDATE and DELETE; creating "
                "or migrating the schema needs CREATE on the schema (docs/state.md, Team state)."
            ) from None
        except psycopg.OperationalError as exc:
            raise StateStoreError(
                f"{self.path}: lost the connection to PostgreSQL ({scrub(str(exc).strip(), self._url)}); "
                "nothing half-written was kept (the transaction rolled back). Run the command again."
            ) from None
        except psycopg.Error as exc:
            raise StateStoreError(
                f"{self.path}: the state store failed ({scrub(str(exc).strip(), self._url)})"
            ) from None

    def close(self) -> None:
        self._raw.close()

    # ---------------------------------------------------------------- reads, runner, repair

    def _snapshot(self) -> StateSnapshot:
        with self._raw.transaction():
            self._db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return super()._snapshot()

    def _tuples(self, sql: str) -> Iterable[Sequence[Any]]:
        # fetchall converts the rows in one call; iterating the cursor costs a Python call per row
        return self._raw.cursor(row_factory=tuple_row).execute(sql).fetchall()

    def record_runner_run(self, *args: Any, **kwargs: Any) -> int:
        return self._guard(lambda: super(PgStateStore, self).record_runner_run(*args, **kwargs))

    def runner_runs(self) -> list[dict[str, Any]]:
        return self._guard(super().runner_runs)

    def generation(self) -> str:
        """Changes with every committed write: what a reader's cache compares."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return "0" if row is None else str(row[0])

    def rebuild(self) -> str:
        raise StateStoreError(
            f"{self.path}: a PostgreSQL state store keeps no runs beside it to rebuild from: PostgreSQL's "
            "own durability keeps every committed ingest. To recover a lost or damaged database, restore "
            "its backup (pg_dump / point-in-time recovery) or ingest the runs again; to start the "
            "predictions over, `freshlens state clear`."
        )

    def verify(self) -> VerifyReport:
        """The schema (version, tables, columns) matches this freshlens', and the rows agree."""
        return self._guard(self._verify)

    def _verify(self) -> VerifyReport:
        rep = VerifyReport(store=self.path, kept="")
        found: dict[str, set[str]] = {}
        for row in self._db.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        ):
            found.setdefault(str(row[0]), set()).add(str(row[1]))
        for table, columns in expected_columns().items():
            if table not in found:
                rep.problems.append(f"schema: table {table} is missing — run `freshlens state migrate`")
            elif columns - found[table]:
                missing = ", ".join(sorted(columns - found[table]))
                rep.problems.append(
                    f"schema: {table} lacks column(s) {missing} — run `freshlens state migrate`"
                )
        if rep.problems:
            return rep
        with self._raw.transaction():
            self._db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            rep.runs = int(
                self._db.execute("SELECT count(*) FROM ingested WHERE kind = 'run_results'").fetchone()[0]
            )
            for sql, what in _CONSISTENCY:
                n = int(self._db.execute(sql).fetchone()[0])
                if n:
                    rep.problems.append(f"{n} {what}")
        rep.summary = (
            f"{self.path}: schema v{SCHEMA_VERSION}, {rep.runs} run(s) ingested; schema and consistency ok"
        )
        return rep


# Each query counts rows that a correct sequence of ingests and clears can never leave.
_CONSISTENCY = (
    (
        "SELECT count(*) FROM nodes WHERE last_success_at IS NOT NULL "
        "AND (fingerprint IS NULL OR last_success_invocation_id IS NULL)",
        "node(s) with a build time but no fingerprint or invocation of that build",
    ),
    (
        "SELECT count(*) FROM nodes n WHERE n.last_success_invocation_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM ingested i WHERE i.kind = 'run_results' AND i.invocation_id = n.last_success_invocation_id)",
        "node build(s) from a run the store never ingested",
    ),
    (
        "SELECT count(*) FROM source_observations o WHERE NOT EXISTS (SELECT 1 FROM ingested i "
        "WHERE i.kind IN ('sources', 'freshness') AND i.invocation_id = o.invocation_id)",
        "source observation(s) from a freshness run the store never ingested",
    ),
)


def expected_columns() -> dict[str, set[str]]:
    """Each table's columns, read from the schema SQLite itself builds: the two backends share it."""
    db = sqlite3.connect(":memory:")
    try:
        for statement in (*_SCHEMA.split(";"), *StateStore._RUNNER_SCHEMA):
            if statement.strip():
                db.execute(statement)
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: {str(r[1]) for r in db.execute(f"PRAGMA table_info({t})")} for t in tables}
    finally:
        db.close()


def stamp(url: str) -> str:
    """The store's change counter, read over a short connection (the planner's cache key)."""
    raw = connect(url)
    try:
        row = raw.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()
        if row is None or row[0] is not True:
            return "none"
        got = raw.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return "0" if got is None else str(got[0])
    except psycopg.Error as exc:
        raise StateStoreError(
            f"{redact(url)}: cannot read the state store ({scrub(str(exc), url)})"
        ) from None
    finally:
        raw.close()
