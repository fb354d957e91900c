"""Hover text (Markdown) for freshness/state keys and values: the effective value and its provenance."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

from freshlens.durations import PERIOD_SECONDS, DurationError, format_seconds, parse_duration
from freshlens.index import Effective, Node, ProjectIndex, Setting, SourceTable, plain
from freshlens.model import Dynamic, Span
from freshlens.project.yamlpos import YMap, YPair
from freshlens.rules.v2_resolve import BOTH, CORE, SLA_RULE_KEYS, V2, engine_for, model_sla, rule_set


def _in(span: Span, line: int, col: int) -> bool:
    return span.contains(line, col)


def _setting_hit(s: Setting, path: str, line: int, col: int) -> bool:
    if s.path != path:
        return False
    return _in(s.key_node.span, line, col) or _in(s.value.span, line, col)


def _fmt(v: Any) -> str:
    if isinstance(v, Dynamic):
        return f"dynamic: `{v.text}` (not rendered)"
    return "`" + json.dumps(v, default=str) + "`"


def _where(s: Setting | None, root: str) -> str:
    if s is None:
        return "default"
    rel = os.path.relpath(s.path, root)
    return f"{s.layer} — [{rel}:{s.key_node.span.line + 1}]({_uri(s)})"


def _uri(s: Setting) -> str:
    return f"file://{s.path}#L{s.key_node.span.line + 1}"


def describe_effective(node: Node, key: str, root: str) -> list[str]:
    eff: Effective = node.eff(key)
    out = [
        f"**{key}** of `{node.display}` ({node.unique_id}): {_fmt(eff.value) if eff.value is not None else '*not set*'}"
    ]
    out.append(f"- set by: {_where(eff.setting, root)}")
    for r in eff.replaced:
        out.append(f"- replaced (whole object, not merged): {_where(r, root)}")
    for i in eff.ignored:
        why = "null does not clear an inherited value here (spec P4)" if i.is_null else "ignored by dbt"
        out.append(f"- {why}: {_where(i, root)}")
    if key == "freshness" and isinstance(eff.value, dict):
        ba = eff.value.get("build_after")
        if isinstance(ba, dict):
            c, p = ba.get("count"), ba.get("period")
            if isinstance(c, int) and isinstance(p, str) and p in PERIOD_SECONDS:
                out.append(
                    f"- window: {format_seconds(c * PERIOD_SECONDS[p])}, updates_on: `{ba.get('updates_on', 'any')}`"
                )
    if key == "state" and isinstance(eff.value, dict):
        lt = eff.value.get("lag_tolerance")
        if isinstance(lt, str):
            try:
                out.append(f"- lag_tolerance = {format_seconds(parse_duration(lt).seconds)}")
            except DurationError as exc:
                out.append(f"- lag_tolerance is invalid: {exc}")
        elif lt is None:
            out.append("- lag_tolerance not set: falls back to build_after, else the 45m default")
    return out


def describe_sla(node: Node, root: str, engine: str) -> list[str]:
    """A model's freshness SLA as dbt v2 resolves it (spec dbt-v2-freshness.md P2–P5, F3)."""
    m = model_sla(node)
    if engine == CORE or m is None or not (m.sla or m.siblings):
        return []
    core = " — dbt Core 1.x ignores it" if engine == BOTH else ""
    out = ["", f"**freshness SLA (dbt v2)** of `{node.display}`{core}"]
    if m.setting is not None:
        out.append(f"- block in force: {_where(m.setting, root)} (a closer level replaces it whole)")
    for k in SLA_RULE_KEYS:
        v = m.value.get(k)
        out.append(f"- {k}: {_fmt(v)}" if rule_set(v) else f"- {k}: *not set*")
    if not m.sla:
        out.append("- no warn_after/error_after: `dbt freshness` does not check this model")
        return out
    if m.loaded_query is not None:
        out.append(f"- measured by loaded_at_query from {_where(m.loaded_query, root)}")
    elif m.loaded_field is not None:
        field = plain(m.loaded_field.value)
        out.append(f"- measured by `max({field})` from {_where(m.loaded_field, root)}")
    else:
        out.append("- measured by warehouse metadata (no loaded_at_field / loaded_at_query)")
    return out


def describe_source(st: SourceTable, root: str) -> list[str]:
    fr = st.freshness
    out = [f"**source freshness** of `{st.display}` ({st.unique_id})"]
    if fr.disabled_by is not None:
        out.append(f"- disabled by `freshness: null`: {_where(fr.disabled_by, root)}")
    for name in ("warn_after", "error_after"):
        th = getattr(fr, name)
        if th is None:
            out.append(f"- {name}: *not set*")
        else:
            out.append(f"- {name}: `{th.count} {th.period}` from {_where(th.setting, root)}")
    if fr.filter is not None:
        out.append(f"- filter: `{fr.filter}` from {_where(fr.filter_setting, root)}")
    method = st.loaded_at_method
    if method == "loaded_at_query":
        out.append(f"- measured by loaded_at_query from {_where(st.loaded_at_query.setting, root)}")
    elif method == "loaded_at_field":
        out.append(
            f"- measured by `max({st.loaded_at_field.value})` from {_where(st.loaded_at_field.setting, root)}"
        )
    else:
        out.append("- measured by warehouse metadata (no loaded_at_field / loaded_at_query)")
    if st.relation_type:
        out.append(f"- relation type (catalog.json): {st.relation_type}")
    return out


def _pairs(entry: YMap) -> list[YPair]:
    out = []
    for holder in (entry, entry.get("config")):
        if isinstance(holder, YMap):
            for p in holder.items:
                if str(p.key.value) in ("freshness", "loaded_at_field", "loaded_at_query"):
                    out.append(p)
    return out


def hover_markdown(idx: ProjectIndex, path: str, line: int, col: int, engine: str = "auto") -> str | None:
    """Hover text at a position; ``engine`` is the user's engine choice (``auto``: require-dbt-version)."""
    root = idx.dir
    hits: list[Node] = []
    key_hit = ""
    # a setting lives in the node's own files or in a dbt_project.yml (which reaches any node)
    candidates: Iterable[Node] = idx.nodes_in_file(path)
    if os.path.basename(path) == "dbt_project.yml" or not (candidates or path.endswith((".yml", ".yaml"))):
        candidates = idx.nodes.values()  # (or a macro's file: a config it sets is the node's)
    for node in candidates:
        for key in ("freshness", "state", "loaded_at_field", "loaded_at_query"):
            if any(_setting_hit(s, path, line, col) for s in node.settings.get(key, [])):
                hits.append(node)
                key_hit = key
                break
    if hits:
        engine = engine if engine in (CORE, V2, BOTH) else engine_for(idx)
        if key_hit.startswith("loaded_at"):
            parts = describe_sla(hits[0], root, engine)[1:] or describe_effective(hits[0], key_hit, root)
        else:
            parts = describe_effective(hits[0], key_hit, root)
            if key_hit == "freshness":
                parts += describe_sla(hits[0], root, engine)
        if len(hits) > 1:
            names = ", ".join(n.display for n in hits[:8])
            more = f" and {len(hits) - 8} more" if len(hits) > 8 else ""
            parts.append(f"\nThis setting reaches {len(hits)} nodes: {names}{more}.")
        return "\n".join(parts)
    for st in idx.sources.values():
        if st.path != path:
            continue
        for entry in (st.table.node, st.source.node):
            for p in _pairs(entry):
                if _in(p.key.span, line, col) or _in(p.value.span, line, col):
                    return "\n".join(describe_source(st, root))
    return None
