"""Which state store a ``--state`` value names, and the connection shape both backends share.

A ``--state`` (CLI, ``freshlens run``, ``state pull``) or the editor's ``freshlens.state`` setting is
either a PostgreSQL URL — ``postgresql://…`` or ``postgres://…`` — for team state in a shared database
(:mod:`freshlens.state.postgres`), or anything else: an SQLite file path (the embedded default,
:mod:`freshlens.state.store`) or a run's artifacts directory. This module decides which, without
importing a database driver, and never lets a password reach a message: :func:`redact` is what every
message, log line and the plan's ``state: …`` origin show of a URL.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

POSTGRES_SCHEMES = ("postgresql", "postgres")
_SECRET_PARAMS = frozenset({"password", "sslpassword"})


def is_postgres_url(target: str) -> bool:
    """``postgresql://…`` or ``postgres://…`` (any case): the PostgreSQL store."""
    head, sep, _ = target.partition("://")
    return bool(sep) and head.lower() in POSTGRES_SCHEMES


def redact(target: str) -> str:
    """The URL with its password (in the user part or a ``password=`` parameter) replaced by ``***``.

    >>> redact("postgresql://ci:s3cret@db.internal:5432/state?sslmode=require")
    'postgresql://ci:***@db.internal:5432/state?sslmode=require'
    >>> redact("state.db")
    'state.db'
    """
    if not is_postgres_url(target):
        return target
    try:
        parts = urlsplit(target)
    except ValueError:  # a malformed URL: show only its scheme, it might hold anything
        return target.partition("://")[0] + "://…"
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        if ":" in user:
            user = user.split(":", 1)[0] + ":***"
        netloc = f"{user}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in _SECRET_PARAMS for k, _ in pairs):
            query = urlencode([(k, "***" if k.lower() in _SECRET_PARAMS else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def secrets_of(target: str) -> list[str]:
    """The password(s) a URL carries, so that error text from the driver can be scrubbed of them."""
    if not is_postgres_url(target):
        return []
    try:
        parts = urlsplit(target)
        found = [parts.password] if parts.password else []
        found += [v for k, v in parse_qsl(parts.query) if k.lower() in _SECRET_PARAMS and v]
    except ValueError:
        return [target]  # cannot tell where the password is: scrub the whole URL
    env = os.environ.get("PGPASSWORD")
    return [s for s in [*found, env] if s]


def scrub(text: str, target: str) -> str:
    """``text`` with every password of ``target`` (and $PGPASSWORD) replaced by ``***``."""
    for secret in secrets_of(target):
        text = text.replace(secret, "***")
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", text, flags=re.IGNORECASE)


def resolve_state(project_dir: str, option: str, default: str) -> str:
    """The store a setting names: a URL as given, a relative path against the project, else ``default``."""
    if not option:
        return default
    if is_postgres_url(option) or os.path.isabs(option):
        return option
    return os.path.normpath(os.path.join(project_dir, option))


class Cursor(Protocol):
    """What the store reads from a query's result (sqlite3's cursor, psycopg's cursor)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """The calls the store's shared SQL goes through: ``?`` placeholders, rows read by column name.

    ``executemany`` runs one statement once per parameter row, without a round trip per row on
    PostgreSQL (psycopg pipelines it); the cursor's ``rowcount`` is then the total of the rows all of
    them changed, on sqlite3 as on psycopg (3.1 and later).
    """

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...

    def close(self) -> None: ...
