"""The structure of a model's SQL, with sqlglot: parse, ``select *`` scopes, semantic normalisation.

Used by the planner for dbt State's rules on views with ``select *`` (spec dbt-state.md §5.1, R18)
and on code changes that are formatting only (§4 C1: whitespace, comments and table aliases do not
count). A model whose SQL cannot be parsed gives a ``problem`` text instead of a tree; callers say so
and fall back to what dbt State does when it cannot prove something (rebuild).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope

from freshlens.sql.placeholders import dialect_for, plain_sql


@dataclass(frozen=True, slots=True)
class SqlStructure:
    """One model's SQL as sqlglot sees it. Treat ``tree`` as read-only (results are cached)."""

    tree: exp.Expr | None
    dialect: str  # sqlglot dialect name, "" = generic
    relations: dict[str, str] = field(default_factory=dict)  # placeholder -> "ref('m')" / "source(…)"
    problem: str = ""  # why it could not be parsed ("" when it parsed)
    flattened: bool = False  # Jinja control flow was flattened before parsing
    jinja_tags: tuple[str, ...] = ()  # the ``{% … %}`` tags taken out (see PlainSql.tags)

    def relation_name(self, table: exp.Table) -> str:
        """How a user wrote a relation: ``ref('m')``, ``source('raw', 't')``, or its SQL name."""
        if table.name in self.relations and not table.db:
            return self.relations[table.name]
        if table.name == "__this" and not table.db:
            return "{{ this }}"
        if table.name.startswith("__jinja_") and not table.db:
            return "a Jinja expression"
        return table.sql(dialect=self.dialect or None)


@lru_cache(maxsize=256)  # trees are large; callers that run on every plan cache their small results
def analyse(text: str, adapter_type: str | None = None) -> SqlStructure:
    """Parse a model's Jinja SQL (see :mod:`freshlens.sql.placeholders`) in its adapter's dialect,
    falling back to sqlglot's generic dialect when that fails."""
    plain = plain_sql(text)
    dialect = dialect_for(adapter_type)
    problem = ""
    for d in dict.fromkeys((dialect, "")):
        try:
            statements = [s for s in sqlglot.parse(plain.sql, read=d or None) if s is not None]
        except (sqlglot.errors.SqlglotError, RecursionError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            problem = problem or f"sqlglot cannot parse it ({first[:160]})"
            continue
        if len(statements) != 1 or not isinstance(statements[0], exp.Query):
            problem = problem or (
                "it is not one SELECT statement"
                if statements
                else "no SQL is left once the Jinja is taken out"
            )
            continue
        return SqlStructure(statements[0], d, plain.relations, "", plain.flattened, plain.tags)
    if plain.flattened:
        problem += "; its Jinja control flow ({% if %}, {% for %}…) cannot be read without rendering"
    return SqlStructure(None, dialect, plain.relations, problem, plain.flattened, plain.tags)


def _is_star(e: exp.Expr) -> bool:
    return isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))


def scopes(tree: exp.Expr) -> list[Scope]:
    """Every SELECT scope of a statement (CTEs, subqueries, union branches), inner first."""
    try:
        return list(traverse_scope(tree))
    except (sqlglot.errors.SqlglotError, RecursionError):
        return []


@dataclass(frozen=True, slots=True)
class StarUse:
    """One ``*`` or ``t.*`` in a select list and what it reads."""

    text: str  # "*" or "t.*" as written
    relation: str  # the relation it reads straight from ("ref('m')", …), "" when over a CTE/subquery
    over: str = ""  # the CTE or subquery it reads from, when relation == ""


def star_uses(s: SqlStructure) -> list[StarUse]:
    """Every ``*`` / ``t.*`` in the statement, with the FROM item it resolves to (spec §5.1).

    A star over several FROM items reads from each; it counts as reading a relation when any of
    them is one. A ``t.*`` whose ``t`` is not in scope counts as a relation (nothing is proved).
    """
    if s.tree is None:
        return []
    out: list[StarUse] = []
    for scope in scopes(s.tree):
        sel = scope.expression
        if not isinstance(sel, exp.Select):
            continue
        sources = scope.selected_sources
        for e in sel.expressions:
            if not _is_star(e):
                continue
            qualifier = e.table if isinstance(e, exp.Column) else ""
            text = e.sql(dialect=s.dialect or None)
            if qualifier and qualifier not in sources:
                out.append(StarUse(text, f"`{qualifier}` (not in scope)"))
                continue
            picked = {qualifier: sources[qualifier]} if qualifier else dict(sources)
            relations = [src for _, src in picked.values() if isinstance(src, exp.Table)]
            if relations:
                out.append(StarUse(text, s.relation_name(relations[0])))
            else:
                out.append(StarUse(text, "", ", ".join(picked)))
    return out


def relation_stars(s: SqlStructure) -> list[StarUse]:
    """The stars that read straight from a relation: they make a view always rebuild (§5.1)."""
    return [u for u in star_uses(s) if u.relation]


@dataclass(frozen=True, slots=True)
class StarReport:
    """What §5.1 needs to know about one view's SQL."""

    parsed: bool
    problem: str  # why it was not parsed
    flattened: bool
    direct: tuple[StarUse, ...]  # stars straight from a relation
    over: tuple[StarUse, ...]  # stars over a CTE or subquery


# Reports from earlier processes, by (sha256 of the text, adapter): a restart parses nothing it parsed
# before (freshlens.planner.sqlcache keeps them on disk); and those made in this process, to keep.
KNOWN: dict[tuple[str, str | None], StarReport] = {}
MADE: dict[tuple[str, str | None], StarReport] = {}


def text_key(text: str, adapter_type: str | None) -> tuple[str, str | None]:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(), adapter_type


@lru_cache(maxsize=8192)
def star_report(text: str, adapter_type: str | None = None) -> StarReport:
    """:func:`star_uses` of a model's SQL, kept per text: the planner asks for every view on every
    plan, and parsing costs milliseconds while the answer is a few bytes."""
    key = text_key(text, adapter_type)
    known = KNOWN.get(key)
    if known is not None:
        return known
    report = _star_report(text, adapter_type)
    MADE[key] = report
    return report


def _star_report(text: str, adapter_type: str | None) -> StarReport:
    s = analyse(text, adapter_type)
    uses = star_uses(s)
    return StarReport(
        s.tree is not None,
        s.problem,
        s.flattened,
        tuple(u for u in uses if u.relation),
        tuple(u for u in uses if not u.relation),
    )


def _canonical_aliases(tree: exp.Expr) -> exp.Expr:
    """A copy where table aliases do not matter: single-source scopes drop the alias and the column
    qualifiers; other scopes name each table's alias after the table (``orders``, ``orders_2``)."""
    tree = tree.copy()
    for scope in scopes(tree):
        tables = [
            (name, node)
            for name, (node, _) in scope.selected_sources.items()
            if isinstance(node, exp.Table)  # a relation, or a reference to a CTE by name
        ]
        if not tables:
            continue
        single = len(scope.selected_sources) == 1
        renamed: dict[str, str] = {}
        taken: dict[str, int] = {}
        for name, node in tables:
            if single:
                renamed[name] = ""
            else:
                base = node.name.lower()
                taken[base] = taken.get(base, 0) + 1
                renamed[name] = base if taken[base] == 1 else f"{base}_{taken[base]}"
        for name, node in tables:
            new = renamed[name]
            node.set("alias", exp.TableAlias(this=exp.to_identifier(new)) if new else None)
        for col in scope.columns:
            if col.table in renamed:
                new = renamed[col.table]
                col.set("table", exp.to_identifier(new) if new else None)
    return tree


@lru_cache(maxsize=4096)
def code_key(text: str, adapter_type: str | None = None, ignore_aliases: bool = True) -> str | None:
    """:func:`semantic_key` of a model's SQL, kept per text (the last build's side is asked again on
    every plan)."""
    return semantic_key(analyse(text, adapter_type), ignore_aliases)


def semantic_key(s: SqlStructure, ignore_aliases: bool = True) -> str | None:
    """The statement in a canonical form: layout, keyword and identifier case and comments do not
    count; with ``ignore_aliases`` neither do table aliases (dbt State's semantic hash, §4 C1).
    None when the SQL could not be parsed.

    >>> a = analyse("select o.id -- key\\nfrom {{ ref('orders') }} as o")
    >>> b = analyse("SELECT id\\n  FROM {{ ref('orders') }}")
    >>> semantic_key(a) == semantic_key(b), semantic_key(a, ignore_aliases=False) == semantic_key(b, False)
    (True, False)
    """
    if s.tree is None:
        return None
    tree = _canonical_aliases(s.tree) if ignore_aliases else s.tree
    key = tree.sql(dialect=s.dialect or None, comments=False, normalize=True)
    return key + "".join(f"\n-- jinja: {t}" for t in s.jinja_tags)
