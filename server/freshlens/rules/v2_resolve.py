"""dbt v2's view of a model's freshness (spec/dbt-v2-freshness.md §1–§2, §6): which engine a project
runs on, and the SLA, ``loaded_at_*`` and measuring method each model ends up with.

The engine is the user's choice (the ``engine`` setting, ``check --engine``), else read from
``require-dbt-version`` in ``dbt_project.yml``: a range that stays below 2 means dbt Core, one from 2
up means dbt v2, anything else (or nothing) means both.

The effective values follow v2's merge, not dbt Core's (``index.resolve_freshness``): the most
specific non-null ``freshness`` replaces the inherited one whole (P2, P4), sibling ``loaded_at_*``
inherit independently (P3), and a nested ``loaded_at_*`` overrides the siblings (P5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from freshlens.index import Node, ProjectIndex, Setting, plain, resolve_whole
from freshlens.model import Dynamic, Severity
from freshlens.project.yamlpos import YMap, YScalar
from freshlens.rules.base import Ctx

SLA_RULE_KEYS = ("warn_after", "error_after")
# Keys a v2 model ``freshness`` holds besides build_after (G1).
SLA_KEYS = frozenset({"warn_after", "error_after", "filter", "loaded_at_field", "loaded_at_query"})
LOADED_AT = ("loaded_at_field", "loaded_at_query")

CORE, V2, BOTH = "core", "v2", "both"
_VERSION = re.compile(r"^\s*(>=|<=|==|=|>|<|~=)?\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?")


# ------------------------------------------------------------------------------------------ engine


def engine_for(index: ProjectIndex) -> str:
    """``core``, ``v2`` or ``both``: the engines the root project's ``require-dbt-version`` admits."""
    root = index.root.project.root
    node = root.get("require-dbt-version") if root is not None else None
    if node is None:
        return BOTH
    specs = [plain(node)] if isinstance(node, YScalar) else plain(node)
    if not isinstance(specs, list):
        return BOTH
    low, high = 0, 10**6  # admitted majors, inclusive
    for spec in specs:
        if not isinstance(spec, str):
            return BOTH
        for part in spec.split(","):
            m = _VERSION.match(part)
            if m is None:
                return BOTH
            op, major = m.group(1) or "==", int(m.group(2))
            minor = int(m.group(3) or 0) + int(m.group(4) or 0)  # only "is it X.0.0" matters below
            if op in (">=", ">"):
                low = max(low, major)
            elif op == "<":
                high = min(high, major - 1 if minor == 0 else major)
            elif op == "<=":
                high = min(high, major)
            else:  # ==, =, ~= (compatible release: same major)
                low, high = max(low, major), min(high, major)
    if high < 2:
        return CORE
    if low >= 2:
        return V2
    return BOTH


ENGINES = ("auto", CORE, V2, BOTH)


def engine_of(ctx: Ctx) -> str:
    """The engine the rules judge for: the user's choice (setting / ``--engine``), else ``engine_for``."""
    return ctx.engine if ctx.engine in (CORE, V2, BOTH) else engine_for(ctx.index)


def say(engine: str, v2: str, core: str) -> str:
    """One message for the engine(s) the project runs on (MV14)."""
    if engine == V2:
        return v2
    if engine == CORE:
        return f"dbt Core 1.x: {core} On the upgrade to dbt v2: {v2}"
    return f"dbt v2: {v2} dbt Core 1.x: {core}"


def v2_only(engine: str) -> Severity | None:
    """Severity of a problem only dbt v2 rejects: information on a dbt Core project (MV14, C4); a warning
    when the project does not say its engine (``both``), because dbt Core parses it and ``check`` must not
    fail a project its own dbt accepts; the code's own severity (an error) on a v2 project."""
    if engine == CORE:
        return Severity.INFORMATION
    if engine == BOTH:
        return Severity.WARNING
    return None


# ---------------------------------------------------------------------------- effective (P2–P5)


def text_set(v: Any) -> bool:
    """A ``loaded_at_*`` value dbt uses: ``""`` counts as unset (MV5)."""
    return isinstance(v, Dynamic) or (isinstance(v, str) and v.strip() != "")


def rule_set(v: Any) -> bool:
    """A non-empty ``warn_after``/``error_after``; ``{}`` counts as absent (G5)."""
    return isinstance(v, Dynamic) or (isinstance(v, dict) and any(x is not None for x in v.values()))


@dataclass(slots=True)
class ModelSla:
    """A model's freshness as dbt v2 resolves it."""

    node: Node
    setting: Setting | None  # the freshness dbt v2 uses (most specific non-null, P2/P4)
    value: dict[str, Any]
    sla: bool  # has_sla: a non-empty warn_after or error_after (G5)
    loaded_field: Setting | None = None  # where the loaded_at_field in force is written (after P5)
    loaded_query: Setting | None = None
    nested: dict[str, Setting] = field(default_factory=dict)
    siblings: dict[str, Setting] = field(default_factory=dict)

    @property
    def method(self) -> str:
        """F3: ``loaded_at_query`` > ``loaded_at_field`` > adapter metadata."""
        return (
            "loaded_at_query" if self.loaded_query else "loaded_at_field" if self.loaded_field else "metadata"
        )


def _nested_setting(s: Setting, key: str) -> Setting | None:
    if not isinstance(s.value, YMap):
        return None
    p = s.value.pair(key)
    if p is None or not text_set(plain(p.value)):
        return None
    return Setting(key, p.key, p.value, s.path, s.layer, s.conditional)


def model_sla(node: Node) -> ModelSla | None:
    """The v2 view of a model's freshness; None when it cannot be known (a dynamic or non-mapping value)."""
    eff = resolve_whole(node, "freshness")
    value: dict[str, Any] = {}
    if eff.setting is not None:
        if not isinstance(eff.value, dict):
            return None
        value = eff.value
    sla = any(rule_set(value.get(k)) for k in SLA_RULE_KEYS)
    out = ModelSla(node, eff.setting, value, sla)
    for key in LOADED_AT:
        sib = node.eff(key)
        if sib.setting is not None and text_set(sib.value):
            out.siblings[key] = sib.setting
        nested = _nested_setting(eff.setting, key) if eff.setting is not None else None
        if nested is not None:
            out.nested[key] = nested
    chosen = out.nested if out.nested else out.siblings  # P5
    out.loaded_field, out.loaded_query = chosen.get("loaded_at_field"), chosen.get("loaded_at_query")
    return out
