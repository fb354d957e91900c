"""Column lineage between two versions of a model, and the columns a child model reads from it.

dbt State's announcement says a descendant of a changed model is rebuilt only if it depends on the
change (spec dbt-state.md, Amendments of 2026-12, R15). To say when that may apply, compare the
parent's old and new SQL per output column — each column's definition is followed through CTEs and
subqueries down to the relations it reads — and separately the statement's "row shape" (FROM,
joins, filters, grouping, and the CTE columns those use): a change there can touch every column.
Table aliases, layout and comments do not count (the same canonical form as
:func:`freshlens.sql.structure.semantic_key`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from freshlens.sql.structure import SqlStructure, _canonical_aliases, _is_star, scopes


@dataclass(frozen=True, slots=True)
class ColumnChange:
    """What changed between two versions of a model's output."""

    rows: bool  # FROM, joins, filters, grouping (or CTE columns they use) changed: any column may differ
    changed: frozenset[str]  # output columns whose definition changed
    added: frozenset[str]
    removed: frozenset[str]

    @property
    def touched(self) -> frozenset[str]:
        return self.changed | self.removed


@dataclass(frozen=True, slots=True)
class ColumnsRead:
    """The columns a model reads from one relation."""

    names: frozenset[str]  # lower-case column names
    everything: bool  # a `*`/`t.*` over the relation: every column, and any added one
    ambiguous: frozenset[
        str
    ]  # unqualified names in a join that may come from the relation (counted in names)


def _dialect(s: SqlStructure) -> str | None:
    return s.dialect or None


class _Lineage:
    """Output column definitions of one statement, followed through CTEs and subqueries."""

    def __init__(self, s: SqlStructure, tree: exp.Expr) -> None:
        self.s = s
        self.memo: dict[int, dict[str, str] | None] = {}
        self.all = scopes(tree)
        self.root = self.all[-1] if self.all else None

    def columns(self, scope: Scope) -> dict[str, str] | None:
        """name -> definition for a SELECT scope; None for a set operation (union …)."""
        key = id(scope)
        if key in self.memo:
            return self.memo[key]
        self.memo[key] = None  # a cycle (a recursive CTE) reads as "not followed"
        sel = scope.expression
        if not isinstance(sel, exp.Select):
            return None
        out: dict[str, str] = {}
        sources = scope.selected_sources
        for e in sel.expressions:
            if _is_star(e):
                qualifier = e.table if isinstance(e, exp.Column) else ""
                picked = {qualifier: sources[qualifier]} if qualifier in sources else dict(sources)
                for name, (_, src) in picked.items():
                    if isinstance(src, Scope) and (inner := self.columns(src)) is not None:
                        out.update(inner)
                    else:
                        out[f"{name}.*"] = self._source_text(src) + ".*"
                continue
            out[e.alias_or_name.lower()] = self._define(scope, e.unalias())
        self.memo[key] = out
        return out

    def _source_text(self, src: exp.Table | Scope) -> str:
        if isinstance(src, exp.Table):
            return src.sql(dialect=_dialect(self.s), comments=False, normalize=True)
        return "(" + src.expression.sql(dialect=_dialect(self.s), comments=False, normalize=True) + ")"

    def column_in(self, src: exp.Table | Scope, name: str) -> str:
        if isinstance(src, exp.Table):
            return f"{self._source_text(src)}.{name}"
        cols = self.columns(src)
        if cols is None:
            return f"{self._source_text(src)}.{name}"
        if name in cols:
            return cols[name]
        stars = [v for k, v in cols.items() if k.endswith(".*")]
        return f"{stars[0][:-2]}.{name}" if len(stars) == 1 else f"?{name}"

    def _define(self, scope: Scope, e: exp.Expr) -> str:
        sources = scope.selected_sources

        def resolve(node: exp.Expr) -> exp.Expr:
            if not isinstance(node, exp.Column) or isinstance(node.this, exp.Star):
                return node
            name = node.name.lower()
            if node.table:
                picked = sources.get(node.table)
            elif len(sources) == 1:
                picked = next(iter(sources.values()))
            else:
                defining = [
                    v
                    for v in sources.values()
                    if isinstance(v[1], Scope) and name in (self.columns(v[1]) or {})
                ]
                picked = defining[0] if len(defining) == 1 else None
            if picked is None:
                return exp.Var(this=f"?{name}")
            inner = self.column_in(picked[1], name)
            # a bare column passes its source's definition through unchanged, as a star does
            return exp.Var(this=inner if node is top else f"({inner})")

        top = e.copy()
        return top.transform(resolve, copy=False).sql(
            dialect=_dialect(self.s), comments=False, normalize=True
        )

    def row_shape(self) -> str:
        """The statement without the select lists, except the columns that filters, joins or grouping
        use (by name, over-approximated) and every column of a DISTINCT or positional GROUP BY."""
        if self.root is None:
            return ""
        used: set[str] = set()
        for scope in self.all:
            sel = scope.expression
            for col in sel.find_all(exp.Column):
                if not _in_select_list(col):
                    used.add(col.name.lower())
        parts: list[str] = []
        for scope in self.all:
            sel = scope.expression
            if not isinstance(sel, exp.Select):
                parts.append(sel.sql(dialect=_dialect(self.s), comments=False, normalize=True))
                continue
            keep_all = bool(sel.args.get("distinct")) or any(
                isinstance(g, exp.Literal) for g in (sel.args.get("group") or exp.Group()).expressions
            )
            cols = self.columns(scope) or {}
            kept = [f"{k}: {v}" for k, v in sorted(cols.items()) if keep_all or k in used or k.endswith(".*")]
            bare = sel.copy()
            bare.set("expressions", [exp.Literal.number(1)])
            bare.set("with_", None)
            parts.append(
                bare.sql(dialect=_dialect(self.s), comments=False, normalize=True) + " | " + " ; ".join(kept)
            )
        return "\n".join(parts)


def _in_select_list(col: exp.Column) -> bool:
    node: exp.Expr = col
    while node.parent is not None and not isinstance(node.parent, exp.Select):
        node = node.parent
    return node.parent is not None and node.arg_key == "expressions"


def column_change(old: SqlStructure, new: SqlStructure) -> ColumnChange | None:
    """Which output columns changed between two versions; None when either cannot be followed
    (unparsed SQL, or a top-level set operation)."""
    if old.tree is None or new.tree is None:
        return None
    lo, ln = _Lineage(old, _canonical_aliases(old.tree)), _Lineage(new, _canonical_aliases(new.tree))
    if lo.root is None or ln.root is None:
        return None
    oc, nc = lo.columns(lo.root), ln.columns(ln.root)
    if oc is None or nc is None:
        return None
    return ColumnChange(
        rows=lo.row_shape() != ln.row_shape(),
        changed=frozenset(n for n in oc.keys() & nc.keys() if oc[n] != nc[n]),
        added=frozenset(nc.keys() - oc.keys()),
        removed=frozenset(oc.keys() - nc.keys()),
    )


def columns_read(s: SqlStructure, placeholder: str) -> ColumnsRead | None:
    """The columns ``s`` reads from the relation ``placeholder`` (see ``SqlStructure.relations``);
    None when ``s`` was not parsed."""
    if s.tree is None:
        return None
    names: set[str] = set()
    ambiguous: set[str] = set()
    everything = False
    for scope in scopes(s.tree):
        sources = scope.selected_sources
        mine = {
            n for n, (_, src) in sources.items() if isinstance(src, exp.Table) and src.name == placeholder
        }
        if not mine:
            continue
        sel = scope.expression
        if isinstance(sel, exp.Select):
            for e in sel.expressions:
                if _is_star(e):
                    q = e.table if isinstance(e, exp.Column) else ""
                    everything = everything or not q or q in mine
        for col in scope.columns:
            if isinstance(col.this, exp.Star):
                continue
            if col.table in mine or (not col.table and len(sources) == 1):
                names.add(col.name.lower())
            elif not col.table:
                ambiguous.add(col.name.lower())
    return ColumnsRead(frozenset(names | ambiguous), everything, frozenset(ambiguous))
