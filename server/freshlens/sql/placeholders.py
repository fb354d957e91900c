"""From a dbt model's Jinja SQL to plain SQL that sqlglot can parse.

``{{ ref('m') }}`` and ``{{ source('raw', 't') }}`` become placeholder relations (``__ref_m``,
``__source_raw__t``) whose names depend only on the call's arguments, so two versions of a model
get the same placeholders. ``{{ config(...) }}`` and comments go; any other ``{{ … }}`` becomes an
opaque identifier; ``{% … %}`` tags are dropped and their bodies kept (both branches of an ``if``),
which is recorded as "flattened" so callers can lower their confidence.

Nothing here renders Jinja or runs anything from the project.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import sqlglot.dialects

# dbt adapter type -> sqlglot dialect, where the names differ; the rest map to themselves when sqlglot
# knows them, else to sqlglot's generic dialect ("").
_ADAPTER_DIALECTS = {
    "sqlserver": "tsql",
    "synapse": "tsql",
    "azuresynapse": "tsql",
    "glue": "spark",
    "impala": "hive",
    "starburst": "trino",
    "postgresql": "postgres",
}
_KNOWN_DIALECTS = frozenset(d.value for d in sqlglot.dialects.Dialects if d.value)


def dialect_for(adapter_type: str | None) -> str:
    """The sqlglot dialect for a profile's adapter ``type``; ``""`` (generic) when there is none.

    >>> dialect_for("duckdb"), dialect_for("sqlserver"), dialect_for("my_own_adapter"), dialect_for(None)
    ('duckdb', 'tsql', '', '')
    """
    if not adapter_type:
        return ""
    name = adapter_type.strip().lower()
    name = _ADAPTER_DIALECTS.get(name, name)
    return name if name in _KNOWN_DIALECTS else ""


_OPEN = re.compile(r"\{\{|\{%|\{#")
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", re.DOTALL)
_SET_BLOCK = re.compile(r"\{%-?\s*set\s+\w+\s*-?%\}.*?\{%-?\s*endset\s*-?%\}", re.DOTALL)
_CALL = re.compile(r"^\s*(ref|source)\s*\((.*)\)\s*$", re.DOTALL)
_ARG = re.compile(r"""\s*(?:(\w+)\s*=\s*)?('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\d+)\s*(?:,|$)""")
_CONTROL = re.compile(r"^\s*(if|elif|else|for|macro|call|filter|block)\b")
_NOT_IDENT = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True, slots=True)
class PlainSql:
    """A model's SQL with its Jinja replaced."""

    sql: str
    relations: dict[str, str] = field(
        default_factory=dict
    )  # placeholder -> "ref('m')" / "source('raw', 't')"
    flattened: bool = False  # Jinja control flow was dropped: both branches of an if are in ``sql``
    # the dropped ``{% … %}`` tags, ``{% set %}`` blocks and ``config()`` calls, whitespace collapsed:
    # two versions whose SQL parses the same still differ when these do
    tags: tuple[str, ...] = ()


def _call(inner: str) -> tuple[str, str] | None:
    """(placeholder, display) for ``ref(...)``/``source(...)`` with literal arguments, else None."""
    m = _CALL.match(inner)
    if m is None:
        return None
    kind, args = m.group(1), m.group(2).strip()
    names: list[str] = []
    version = ""
    pos = 0
    while pos < len(args):
        a = _ARG.match(args, pos)
        if a is None or a.end() == pos:
            return None  # a non-literal argument (a var(), a variable): not a plain ref/source
        key, value = a.group(1), a.group(2)
        literal = value[1:-1] if value[0] in "'\"" else value
        if key in ("v", "version"):
            version = literal
        elif key is None:
            names.append(literal)
        else:
            return None
        pos = a.end()
    if not names or (kind == "source" and len(names) != 2) or (kind == "ref" and len(names) > 2):
        return None
    shown = ", ".join(repr(n) for n in names) + (f", v={version}" if version else "")
    return placeholder(kind, names, version), f"{kind}({shown})"


def placeholder(kind: str, names: list[str], version: str = "") -> str:
    """The relation name that stands for ``ref(*names)`` / ``source(*names)`` in the parsed SQL.

    >>> placeholder("ref", ["orders"]), placeholder("source", ["raw", "t"]), placeholder("ref", ["m"], "2")
    ('__ref_orders', '__source_raw__t', '__ref_m__v2')
    """
    key_text = "__".join(names) + (f"__v{version}" if version else "")
    return f"__{kind}_{_NOT_IDENT.sub('_', key_text)}"


def plain_sql(text: str) -> PlainSql:
    """Replace the Jinja in ``text`` (see the module docstring).

    >>> p = plain_sql("{{ config(materialized='view') }} select * from {{ ref('orders') }} {# x #}")
    >>> p.sql.split(), p.relations
    (['select', '*', 'from', '__ref_orders'], {'__ref_orders': "ref('orders')"})
    """
    relations: dict[str, str] = {}
    flattened = False
    tags: list[str] = []

    def replace(expr: str | None, tag: str | None) -> str:
        nonlocal flattened
        if expr is not None:
            inner = expr.strip().strip("-").strip()
            if inner.startswith("config(") or inner.startswith("config "):
                tags.append(" ".join(inner.split()))  # configs are not SQL, but an edit still counts
                return " "
            call = _call(inner)
            if call is not None:
                relations[call[0]] = call[1]
                return f" {call[0]} "
            if inner == "this":
                return " __this "
            digest = hashlib.sha256(" ".join(inner.split()).encode("utf-8")).hexdigest()[:10]
            return f" __jinja_{digest} "
        if tag is not None:
            tags.append(" ".join(tag.strip().strip("-").split()))
            if _CONTROL.match(tags[-1]):
                flattened = True
        return " "

    def drop_set(m: re.Match[str]) -> str:
        tags.append(" ".join(m.group(0).split()))
        return " "

    without_sets = _SET_BLOCK.sub(drop_set, text)
    out: list[str] = []
    pos = 0
    for start, end, closed, kind in _jinja_spans(without_sets):
        out.append(without_sets[pos:start])
        inner = without_sets[start + 2 : end - 2 if closed else end]
        out.append(replace(inner if kind == "{{" else None, inner if kind == "{%" else None))
        pos = end
    out.append(without_sets[pos:])
    return PlainSql("".join(out), relations, flattened, tuple(tags))


def _jinja_spans(text: str) -> list[tuple[int, int, bool, str]]:
    """(start, end, closed, opener) of each ``{{ }}``, ``{% %}`` and ``{# #}``; an expression ends at the
    first closer outside string literals and brackets, so ``config(x={'a': {'b': 1}})`` is one span.
    An unclosed one runs to the end of the text."""
    spans: list[tuple[int, int, bool, str]] = []
    pos = 0
    n = len(text)
    while (m := _OPEN.search(text, pos)) is not None:
        start, opener = m.start(), m.group(0)
        closer = {"{{": "}}", "{%": "%}", "{#": "#}"}[opener]
        i, depth = m.end(), 0
        end = n
        while i < n:
            c = text[i]
            if opener != "{#" and c in "'\"":
                lit = _STRING.match(text, i)
                i = lit.end() if lit else n
                continue
            if depth == 0 and text.startswith(closer, i):
                end = i + 2
                break
            if opener != "{#" and c in "([{":
                depth += 1
            elif opener != "{#" and c in ")]}" and depth > 0:
                depth -= 1
            i += 1
        spans.append((start, end, end < n or text.endswith(closer), opener))
        pos = end
    return spans
