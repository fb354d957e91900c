"""Validation rules: one small function per rule family, a registry tuple, stable codes.

``run_rules(index, problems)`` returns every finding for a project. Rules take the linked index
and return plain ``Finding`` values; they never raise on user input (a rule that crashes is our bug:
it is logged and the other rules still run).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from freshlens.index import ProjectIndex
from freshlens.model import Finding, ParseProblem
from freshlens.rules import general, model_freshness, source_freshness, state_block, v2_freshness
from freshlens.rules.base import Ctx, ScopedIndex

log = logging.getLogger(__name__)

Rule = Callable[[Ctx], Iterable[Finding]]

RULES: tuple[Rule, ...] = (
    general.parse_problems,
    general.references,
    general.render_problems,
    general.refs_to_disabled,
    general.duplicates,
    general.orphan_properties,
    model_freshness.project_tree_keys,
    model_freshness.freshness_values,
    model_freshness.misplaced_freshness,
    model_freshness.null_under_inherited,
    model_freshness.python_models,
    model_freshness.updates_on_all,
    source_freshness.source_rules,
    v2_freshness.sla_values,
    v2_freshness.sibling_pairs,
    v2_freshness.top_level_loaded_at,
    v2_freshness.model_rules,
    v2_freshness.replace_rules,
    state_block.state_values,
    state_block.state_node_rules,
    state_block.profile_keys,
    state_block.project_flags,
)


def run_rules(
    index: ProjectIndex,
    problems: list[ParseProblem],
    scope: frozenset[str] | None = None,
    engine: str = "auto",
) -> list[Finding]:
    """All findings of a project, or only those in the files of ``scope`` (re-checking an edit).

    ``engine`` (``auto``, ``core``, ``v2``, ``both``) overrides what ``require-dbt-version`` says about
    the dbt engine the project runs on (spec dbt-v2-freshness.md MV14)."""
    if scope is not None:
        view: Any = ScopedIndex(index, scope)
        ctx = Ctx(view, [p for p in problems if p.loc.path in scope], scope, engine)
    else:
        ctx = Ctx(index, problems, engine=engine)
    out: list[Finding] = []
    for rule in RULES:
        try:
            out.extend(f for f in rule(ctx) if scope is None or f.loc.path in scope)
        except Exception:  # our bug, not the user's: log it and keep serving
            log.exception("rule %s failed on %s", rule.__qualname__, index.dir)
    return out
