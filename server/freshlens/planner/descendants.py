"""Descendants of a changed model under dbt State: does the change touch the columns they read?

Spec dbt-state.md, Amendments of 2026-12 (R15): predict BUILD for a descendant of a changed model
(the docs' rule), and say when dbt State may reuse it because the change does not touch the columns
it reads — column lineage over the parent's last built SQL and its SQL now. This module only writes
that explanation; it never changes the decision.
"""

from __future__ import annotations

from freshlens.index import Node
from freshlens.planner.code_change import raw_code
from freshlens.planner.core import Decision, PlanInputs, current_text
from freshlens.sql import analyse, column_change, columns_read, placeholder

_CONFIDENCE = (
    "confidence: likely, not certain — the docs still say an upstream SQL change rebuilds its "
    "descendants, so freshlens predicts Build"
)


def _names(cols: frozenset[str]) -> str:
    return ", ".join(f"`{c}`" for c in sorted(cols))


def _placeholders(parent: Node) -> list[str]:
    """The relation names ``ref(parent)`` may take in a child's parsed SQL."""
    version = parent.version or ""
    out = [placeholder("ref", [parent.name]), placeholder("ref", [parent.package, parent.name])]
    if version:
        out += [
            placeholder("ref", [parent.name], version),
            placeholder("ref", [parent.package, parent.name], version),
        ]
    return out


def descendant_note(child: Node, parent: Decision, inp: PlanInputs) -> str:
    """One sentence for the explanation of ``child``, which builds because ``parent``'s query changed."""
    pnode = inp.index.nodes.get(parent.unique_id)
    head = (
        f"dbt State may reuse {child.display} if {parent.name}'s change does not touch the columns it reads"
    )
    if pnode is None or parent.rule != "STATE R14" or parent.code_change != "SQL body":
        what = parent.code_change or "a change further upstream"
        return f"{head}; freshlens follows columns only for an edit of {parent.name}'s SQL, not for {what}."
    old = inp.recorded_code.get(parent.unique_id)
    now = current_text(pnode, inp)
    if old is None or now is None:
        return (
            f"{head}; freshlens cannot tell: the state holds no copy of the SQL {parent.name} was last "
            "built from (it is read from the last run's manifest.json when that file is still there)."
        )
    adapter = inp.index.adapter_type
    before, after = analyse(old, adapter), analyse(raw_code(pnode, now), adapter)
    change = column_change(before, after)
    if change is None:
        problem = before.problem or after.problem or "its output is a set operation (union …)"
        return f"{head}; freshlens cannot follow {parent.name}'s columns: {problem}."
    ctext = current_text(child, inp)
    mine = analyse(raw_code(child, ctext), adapter) if ctext is not None else None
    if mine is None or mine.tree is None:
        why = mine.problem if mine is not None else "its file is not loaded"
        return f"{head}; freshlens cannot tell which columns {child.display} reads: {why}."
    reads = [r for ph in _placeholders(pnode) if ph in mine.relations and (r := columns_read(mine, ph))]
    if not reads:
        return f"{head}; freshlens did not find a plain ref('{parent.name}') in {child.display}'s SQL."
    everything = any(r.everything for r in reads)
    names = frozenset().union(*(r.names for r in reads))
    if change.rows:
        return (
            f"{parent.name}'s change alters which rows it returns (FROM, joins, filters, grouping, or the "
            f"CTE columns they use), so every column {child.display} reads may change: dbt State rebuilds it too."
        )
    if everything:
        return (
            f"{child.display} selects * from {parent.name}, so it reads every changed or added column: "
            "dbt State rebuilds it too."
        )
    hit = change.touched & names
    if hit:
        return (
            f"{child.display} reads {_names(hit)} of {parent.name}, which changed: dbt State rebuilds it too."
        )
    touched = change.touched | change.added
    what = _names(touched) if touched else "no output column"
    return (
        f"dbt State may reuse {child.display}: {parent.name}'s change touches {what}, and "
        f"{child.display} reads only {_names(names) if names else 'none of its columns'} "
        f"(column lineage over both versions of {parent.name}'s SQL); {_CONFIDENCE}."
    )
