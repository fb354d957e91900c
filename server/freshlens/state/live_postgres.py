"""Live source freshness from PostgreSQL, read-only (issue 8; spec sao.md S1/S2 as for DuckDB).

The connection comes from the dbt profile's target (``host``, ``port``, ``user``, ``password`` /
``pass``, ``dbname`` / ``database``, ``sslmode``; a value written ``{{ env_var('NAME') }}`` or
``{{ env_var('NAME', 'default') }}`` is read from the environment, as dbt would) and libpq's own
environment (``PGPASSWORD``, ``PGHOST``, …, ``~/.pgpass``). It is opened read-only in every way
PostgreSQL offers: ``default_transaction_read_only`` for the session, a read-only transaction per
source, and a statement timeout, so even a ``loaded_at_query`` that calls a function with side
effects cannot write, and one that never ends is stopped. Before anything runs, the SQL must be one
``SELECT`` / ``WITH`` statement (sqlglot, postgres dialect). A relation in another database than the
connection's cannot be measured (PostgreSQL does not join across databases) and says so.

PostgreSQL keeps no modification time for tables, so a table without ``loaded_at_*`` cannot be
measured and counts as updated (D6.2); a view without them always counts as new data (D6.1).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from freshlens.state.backend import redact
from freshlens.state.freshness import ERROR, FreshnessError, SourceFreshnessNow, SourceSpec, measure

CONNECT_TIMEOUT_S = 10
STATEMENT_TIMEOUT_MS = 15_000
# All sources together: a plan waits for them (the editor re-plans on its event loop), so a warehouse
# where every query is slow costs this much at most; the sources left over say so and count as updated.
BUDGET_S = 30.0
_ENV_VAR = re.compile(
    r"""^\{\{\s*env_var\(\s*(['"])(\w+)\1\s*(?:,\s*(['"])(.*?)\3\s*)?\)"""
    r"""\s*(?:\|\s*(?:as_number|as_text|int|string)\s*)?\}\}$"""
)
_FIELDS = {"host": "host", "port": "port", "user": "user", "password": "password", "pass": "password"}


def target_value(value: Any, env: dict[str, str]) -> str | None:
    """A profile value as dbt would read it: literal, or ``{{ env_var('X'[, 'default']) }}`` (with an
    ``| as_number`` / ``| int`` filter or not); None if it is other Jinja or an unset env var without
    a default."""
    if value is None:
        return None
    text = str(value)
    if "{{" not in text:
        return text
    m = _ENV_VAR.match(text.strip())
    if m is None:
        return None
    got = env.get(m.group(2))
    return got if got is not None else m.group(4)


def connection_params(target: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
    """psycopg keyword arguments from a dbt-postgres target (what is missing, libpq fills in)."""
    out: dict[str, str] = {}
    for key, arg in _FIELDS.items():
        v = target_value(target.get(key), env)
        if v:
            out[arg] = v
    db = target_value(target.get("dbname", target.get("database")), env)
    if db:
        out["dbname"] = db
    ssl = target_value(target.get("sslmode"), env)
    if ssl:
        out["sslmode"] = ssl
    return out


def describe(params: dict[str, str]) -> str:
    """``user@host:port/db`` for messages, never the password."""
    host = params.get("host", "local socket")
    port = f":{params['port']}" if "port" in params else ""
    user = f"{params['user']}@" if "user" in params else ""
    return redact(f"{user}{host}{port}/{params.get('dbname', '')}")


def live_postgres_freshness(
    specs: Sequence[SourceSpec],
    params: dict[str, str],
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
    budget_s: float = BUDGET_S,
) -> dict[str, SourceFreshnessNow]:
    """Measure each source's ``max_loaded_at`` over a read-only connection.

    Raises :class:`FreshnessError` only when the database cannot be reached; every per-source
    problem becomes a non-measured :class:`SourceFreshnessNow` with a note.
    """
    try:
        import psycopg
        from psycopg.conninfo import make_conninfo
    except ImportError:
        raise FreshnessError(
            "live freshness from PostgreSQL needs the psycopg driver: pip install 'freshlens[postgres]'"
        ) from None
    where = describe(params)
    try:
        conninfo = make_conninfo(
            "",
            **params,
            connect_timeout=CONNECT_TIMEOUT_S,
            options=f"-c default_transaction_read_only=on -c statement_timeout={int(statement_timeout_ms)}",
            application_name="freshlens live freshness",
        )
        con = psycopg.connect(conninfo)
    except psycopg.Error as exc:
        first = redact(str(exc).strip().splitlines()[0]) if str(exc).strip() else type(exc).__name__
        raise FreshnessError(
            f"cannot connect to PostgreSQL {where} for live freshness ({first}); check the profile's "
            "target and its credentials (or PGPASSWORD / ~/.pgpass)"
        ) from None
    out: dict[str, SourceFreshnessNow] = {}
    try:
        con.read_only = True
        con.autocommit = False
        with con.cursor() as cur:
            cur.execute("select current_database()")
            row = cur.fetchone()
            current = str(row[0]) if row else ""
        con.rollback()
        deadline = time.monotonic() + budget_s
        for spec in specs:
            if time.monotonic() > deadline:
                out[spec.unique_id] = SourceFreshnessNow(
                    spec.unique_id,
                    None,
                    ERROR,
                    f"not measured: live freshness used up its {budget_s:g} s for all sources. Treated as "
                    "updated (D6.2); refresh with your dbt instead (freshlens freshness refresh)",
                )
                continue
            if spec.database and spec.database != current:
                out[spec.unique_id] = SourceFreshnessNow(
                    spec.unique_id,
                    None,
                    ERROR,
                    f"source in database {spec.database!r}, but the profile connects to {current!r}: "
                    "PostgreSQL cannot read across databases. Treated as updated. (D6.2)",
                )
                continue
            out[spec.unique_id] = _measure(con, replace(spec, database=None), psycopg.Error)
    finally:
        con.close()
    return out


def _measure(con: Any, spec: SourceSpec, error: type[Exception]) -> SourceFreshnessNow:
    def relation_type() -> str | None:
        sql = "select table_type from information_schema.tables where table_name = %s"
        args: list[str] = [spec.identifier]
        if spec.schema:
            sql += " and table_schema = %s"
            args.append(spec.schema)
        try:
            with con.cursor() as cur:
                cur.execute(sql, args)
                row = cur.fetchone()
        finally:
            con.rollback()
        return None if row is None else str(row[0])

    def scalar(sql: str) -> Any:
        try:
            with con.cursor() as cur:
                cur.execute(sql.encode("utf-8"))  # as bytes: psycopg leaves a literal % alone
                row = cur.fetchone()
        finally:
            con.rollback()  # each source in its own read-only transaction, nothing kept
        return None if row is None else row[0]

    return measure(
        spec,
        relation_type,
        scalar,
        (error,),
        "postgres",
        "the PostgreSQL database",
        "PostgreSQL keeps no modification time for tables",
    )
