"""Current source freshness: from a current ``sources.json`` / ``freshness.json``, or a live read-only DuckDB.

The planner asks "does this source have new data since the model's last build?" and needs the source's
``max_loaded_at`` *now*. Two ways to get it:

* :func:`current_freshness_from_file` — a ``sources.json`` written by ``dbt source freshness`` just now,
  or a ``freshness.json`` written by dbt v2's ``dbt freshness`` (its source results; model SLA results
  never feed build/reuse, spec dbt-v2-freshness.md S5).
* :func:`live_duckdb_freshness` — query the DuckDB file read-only, as dbt would (spec sao.md S1/S2):
  ``loaded_at_query`` (``{{ this }}`` replaced by the relation) wins over ``loaded_at_field``
  (``select max(<field>) from <relation> [where <filter>]``). Only a single ``SELECT``/``WITH`` statement
  is ever executed (checked with sqlglot), on a connection opened with ``read_only=True`` and external
  file access disabled.

Sources that cannot be measured get a note instead of a guess: a view without ``loaded_at_*`` always
counts as new data (D6.1); a missing or failed measurement means "treated as updated" (D6.2).

Public API::

    SourceSpec(unique_id, database, schema, identifier, loaded_at_field=None, loaded_at_query=None, filter=None)
    SourceSpec.from_manifest(source: ManifestSource) -> SourceSpec
    SourceFreshnessNow(unique_id, max_loaded_at, status, note, check_status=None)   # .counts_as_new_data
    current_freshness_from_file(path, expected=()) -> dict[str, SourceFreshnessNow]
    live_duckdb_freshness(specs, database_path) -> dict[str, SourceFreshnessNow]
    select_only_problem(sql) -> str | None
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, NamedTuple

import sqlglot
from sqlglot import exp

from freshlens.state.artifacts import ManifestSource, StateError, parse_timestamp, read_freshness_artifact

# SourceFreshnessNow.status values
MEASURED = "measured"  # max_loaded_at is known
ALWAYS_NEW = "always_new"  # D6.1: a view without loaded_at_*
UNKNOWN = "unknown"  # D6.2: no freshness information; treated as updated
ERROR = "error"  # D6.2: the measurement failed; treated as updated

NOTE_VIEW = "view without loaded_at_*: always counts as new data (spec sao.md D6.1)"


class FreshnessError(StateError):
    """Live freshness cannot be read at all (e.g. the DuckDB file cannot be opened)."""


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """The plain inputs for measuring one source; independent of the project indexer."""

    unique_id: str
    database: str | None
    schema: str | None
    identifier: str
    loaded_at_field: str | None = None
    loaded_at_query: str | None = None
    filter: str | None = None

    @staticmethod
    def from_manifest(source: ManifestSource) -> SourceSpec:
        return SourceSpec(
            unique_id=source.unique_id,
            database=source.relation.database,
            schema=source.relation.schema,
            identifier=source.relation.identifier or source.name,
            loaded_at_field=source.loaded_at_field,
            loaded_at_query=source.loaded_at_query,
            filter=source.filter,
        )

    def quoted_relation(self) -> str:
        parts = [p for p in (self.database, self.schema, self.identifier) if p]
        return ".".join('"' + p.replace('"', '""') + '"' for p in parts)


class SourceFreshnessNow(NamedTuple):
    unique_id: str
    max_loaded_at: datetime | None
    status: str  # MEASURED, ALWAYS_NEW, UNKNOWN, ERROR
    note: str  # why, in words for a hover; "" when measured cleanly
    check_status: str | None = None  # pass / warn / error / runtime error, when read from sources.json

    @property
    def counts_as_new_data(self) -> bool:
        """D6: a source that cannot be measured always counts as having new data."""
        return self.status != MEASURED


def missing_note(unique_id: str) -> str:
    return (
        f"Could not find freshness information for source '{unique_id}'. The source will be treated as "
        "updated, and dependent models will rebuild. (spec sao.md D6.2)"
    )


def failed_note(error: str) -> str:
    return (
        f"Failed to extract freshness metadata: {error}. Affected sources will be treated as updated. (D6.2)"
    )


def current_freshness_from_file(
    path: str | Path, expected: Iterable[str] = ()
) -> dict[str, SourceFreshnessNow]:
    """Current freshness from a ``sources.json`` or ``freshness.json``; ``expected`` source ids absent
    from it get a D6.2 note.

    dbt-core 1.11 and dbt v2 leave errored sources out of the file; older files and Fusion keep them as
    ``{unique_id, error, status: "runtime error"}``. Both end up as non-measured entries. The ``model.*``
    results of a ``freshness.json`` are SLA checks of models, not source freshness: they are left out.
    """
    artifact = read_freshness_artifact(path)
    out: dict[str, SourceFreshnessNow] = {}
    for res in artifact.results:
        if res.resource_type != "source":
            continue
        if res.max_loaded_at is not None:
            out[res.unique_id] = SourceFreshnessNow(
                res.unique_id, res.max_loaded_at, MEASURED, "", res.status
            )
        else:
            out[res.unique_id] = SourceFreshnessNow(
                res.unique_id, None, ERROR, failed_note(res.error or res.status), res.status
            )
    for uid in expected:
        if uid not in out:
            out[uid] = SourceFreshnessNow(uid, None, UNKNOWN, missing_note(uid))
    return out


# ------------------------------------------------------------------------------------- the SQL guard

_FORBIDDEN = tuple(
    cls
    for name in (
        "Insert",
        "Update",
        "Delete",
        "Merge",
        "Create",
        "Drop",
        "Alter",
        "Command",
        "Into",
        "Copy",
        "Set",
        "Pragma",
        "Use",
        "Transaction",
        "Commit",
        "Rollback",
        "Attach",
        "Detach",
        "Export",
        "Install",
        "Load",
    )
    if isinstance(cls := getattr(exp, name, None), type)
)
_QUERY_ROOTS = tuple(
    cls
    for name in ("Select", "Union", "Intersect", "Except", "SetOperation")
    if (cls := getattr(exp, name, None))
)


def select_only_problem(sql: str, dialect: str = "duckdb") -> str | None:
    """None if ``sql`` is one read-only ``SELECT``/``WITH … SELECT`` statement (in ``dialect``), else why
    it is refused.

    >>> select_only_problem("select max(x) from t") is None
    True
    >>> select_only_problem("delete from t")
    'only a single SELECT (or WITH … SELECT) statement is run; found Delete'
    """
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"cannot be parsed as SQL ({first})"
    if len(statements) != 1:
        return f"only a single statement is run; found {len(statements)}"
    root = statements[0]
    if not isinstance(root, _QUERY_ROOTS):
        return f"only a single SELECT (or WITH … SELECT) statement is run; found {type(root).__name__}"
    for node in root.walk():
        if isinstance(node, _FORBIDDEN):
            return f"only read-only SELECT statements are run; found {type(node).__name__} inside"
    return None


_THIS = re.compile(r"\{\{\s*this\s*\}\}")
JINJA = re.compile(r"\{\{|\{%|\{#")


def to_utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    if isinstance(value, str):
        return parse_timestamp(value)
    raise ValueError(f"the query returned {type(value).__name__} {value!r}, not a timestamp")


def freshness_sql(spec: SourceSpec) -> str | None:
    """The SQL dbt would run for ``spec`` (query wins over field, filter only with the field), or None."""
    if spec.loaded_at_query:
        return _THIS.sub(lambda _: spec.quoted_relation(), spec.loaded_at_query).strip().rstrip(";")
    if spec.loaded_at_field:
        sql = f"select max({spec.loaded_at_field}) from {spec.quoted_relation()}"
        return f"{sql} where {spec.filter}" if spec.filter else sql
    return None


def live_duckdb_freshness(
    specs: Sequence[SourceSpec], database_path: str | Path
) -> dict[str, SourceFreshnessNow]:
    """Measure each source's ``max_loaded_at`` in a DuckDB file opened read-only.

    Raises :class:`FreshnessError` only when the database cannot be opened; every per-source problem
    becomes a non-measured :class:`SourceFreshnessNow` with a note.
    """
    import duckdb  # imported here: only live freshness needs it

    path = Path(database_path)
    if not path.is_file():
        raise FreshnessError(f"{path}: DuckDB database not found; check the path in the freshlens settings.")
    try:
        con = duckdb.connect(str(path), read_only=True, config={"enable_external_access": False})
    except duckdb.Error as exc:
        raise FreshnessError(f"{path}: cannot open the DuckDB database read-only ({exc}).") from None
    out: dict[str, SourceFreshnessNow] = {}
    try:
        catalogs = {
            str(row[0]) for row in con.execute("select database_name from duckdb_databases()").fetchall()
        }
        for spec in specs:
            if spec.database and spec.database not in catalogs:
                # dbt-duckdb names the database after the file; a copied or renamed file keeps the data.
                spec = replace(spec, database=None)
            out[spec.unique_id] = _measure(con, spec)
    finally:
        con.close()
    return out


def _relation_type(con: Any, spec: SourceSpec) -> str | None:
    sql = "select table_type from information_schema.tables where table_name = ?"
    params: list[str] = [spec.identifier]
    if spec.schema:
        sql += " and table_schema = ?"
        params.append(spec.schema)
    if spec.database:
        sql += " and table_catalog = ?"
        params.append(spec.database)
    row = con.execute(sql, params).fetchone()
    return None if row is None else str(row[0])


def _measure(con: Any, spec: SourceSpec) -> SourceFreshnessNow:
    import duckdb

    def scalar(sql: str) -> Any:
        row = con.execute(sql).fetchone()
        return None if row is None else row[0]

    return measure(
        spec,
        lambda: _relation_type(con, spec),
        scalar,
        (duckdb.Error,),
        "duckdb",
        "the DuckDB database",
        "DuckDB has no metadata freshness",
    )


def measure(
    spec: SourceSpec,
    relation_type: Callable[[], str | None],
    scalar: Callable[[str], Any],
    errors: tuple[type[Exception], ...],
    dialect: str,
    where: str,
    no_metadata: str,
) -> SourceFreshnessNow:
    """One source's freshness with a warehouse's ``relation_type()`` (``VIEW`` / a table type / None
    when missing) and ``scalar(sql)`` (the first column of the first row), as dbt measures it."""
    uid = spec.unique_id
    try:
        rtype = relation_type()
    except errors as exc:
        return SourceFreshnessNow(uid, None, ERROR, failed_note(str(exc).splitlines()[0]))
    if rtype is None:
        return SourceFreshnessNow(
            uid,
            None,
            UNKNOWN,
            f"relation {spec.quoted_relation()} not found in {where}. " + missing_note(uid),
        )
    sql = freshness_sql(spec)
    if sql is None:
        if rtype == "VIEW":
            return SourceFreshnessNow(uid, None, ALWAYS_NEW, NOTE_VIEW)
        return SourceFreshnessNow(
            uid,
            None,
            UNKNOWN,
            f"no loaded_at_field or loaded_at_query, and {no_metadata}. " + missing_note(uid),
        )
    if JINJA.search(sql):
        return SourceFreshnessNow(
            uid,
            None,
            ERROR,
            "loaded_at_query uses Jinja other than {{ this }}; freshlens does not render it. "
            + failed_note("query not run"),
        )
    problem = select_only_problem(sql, dialect)
    if problem is not None:
        return SourceFreshnessNow(uid, None, ERROR, f"refused to run the freshness SQL: {problem}. (D6.2)")
    failures: tuple[type[Exception], ...] = (*errors, ValueError)
    try:
        value = to_utc(scalar(sql))
    except failures as exc:
        return SourceFreshnessNow(uid, None, ERROR, failed_note(str(exc).splitlines()[0]))
    if value is None:
        return SourceFreshnessNow(
            uid, None, UNKNOWN, "the freshness query returned no rows. " + missing_note(uid)
        )
    return SourceFreshnessNow(uid, value, MEASURED, "")
