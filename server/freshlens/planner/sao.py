"""The SAO regime — spec/sao.md §1.5 (D1–D19).

``build_after`` is measured since the model's last successful build and gates code changes too;
``updates_on`` any/all over direct parents; default ``count: 0``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from freshlens.index import Node
from freshlens.planner.code_change import code_change
from freshlens.planner.core import (
    BUILD,
    NOOP,
    REUSE,
    UNKNOWN,
    Decision,
    ParentStatus,
    PlanInputs,
    ago,
    build_after,
    current_text,
    humantime,
    kind_name,
    new_decision,
    node_state,
    unmeasurable_why,
)
from freshlens.state.snapshot import NodeState


def _source_status(sid: str, ns: NodeState, inp: PlanInputs) -> ParentStatus:
    now = inp.freshness.get(sid)
    st = inp.index.sources.get(sid)
    name = st.display if st else sid
    if now is None:
        if not inp.freshness_origin:
            return ParentStatus(sid, "source", None, f"no current freshness for source {name}")
        return ParentStatus(
            sid, "source", True, f"source {name}: no freshness result — treated as new data (D6.2)"
        )
    if now.counts_as_new_data or now.max_loaded_at is None:
        return ParentStatus(
            sid, "source", True, f"source {name} counts as new data ({unmeasurable_why(now)})"
        )
    seen = ns.sources_at_build.get(sid)
    seen_at = seen.max_loaded_at if seen is not None else None
    if seen_at is None:
        sstate = inp.state.source(sid)
        if sstate is not None and ns.last_success_at is not None:
            seen_at = sstate.max_loaded_at_as_of(ns.last_success_at)
    if seen_at is None:
        return ParentStatus(
            sid, "source", None, f"source {name}: unknown what the last build saw (no earlier sources.json)"
        )
    cur = now.max_loaded_at
    if cur > seen_at:
        return ParentStatus(sid, "source", True, f"new data in source {name} ({ago(inp.at - cur)} ago)", cur)
    return ParentStatus(sid, "source", False, f"source {name}: no new data since the last build", cur)


def _node_parent_status(
    pid: str, p: Node | None, ns: NodeState, inp: PlanInputs, done: Mapping[str, Decision]
) -> ParentStatus:
    kind, name = (p.resource_type, p.display) if p is not None else kind_name(pid, inp)
    pd = done.get(pid)
    if pd is not None and pd.action == BUILD:
        return ParentStatus(pid, kind, True, f"{kind} {name} builds in this run", inp.at)
    pstate = inp.state.nodes.get(pid)
    if pstate is None or pstate.last_success_at is None or ns.last_success_at is None:
        if pd is not None and pd.action in (REUSE, NOOP):
            return ParentStatus(pid, kind, False, f"{kind} {name} is reused")
        return ParentStatus(pid, kind, None, f"{kind} {name}: no build recorded")
    if pstate.last_success_at > ns.last_success_at:
        return ParentStatus(
            pid,
            kind,
            True,
            f"{kind} {name} was rebuilt after this model ({ago(inp.at - pstate.last_success_at)} ago)",
            pstate.last_success_at,
        )
    return ParentStatus(
        pid, kind, False, f"{kind} {name}: no new data since the last build", pstate.last_success_at
    )


def _parents(
    node: Node, ns: NodeState, inp: PlanInputs, done: Mapping[str, Decision], seen: set[str] | None = None
) -> list[ParentStatus]:
    out = []
    seen = seen if seen is not None else set()
    nodes = inp.index.nodes
    for pid in node.parents:
        if pid in seen:
            continue
        seen.add(pid)
        p = nodes.get(pid)
        if p is not None and p.resource_type == "model" and p.materialized == "ephemeral":
            # D17: an ephemeral is inlined into this model, so its parents are this model's parents
            out.extend(_parents(p, ns, inp, done, seen))
        elif pid.startswith("source."):
            out.append(_source_status(pid, ns, inp))
        else:
            out.append(_node_parent_status(pid, p, ns, inp, done))
    return out


def decide_sao(node: Node, inp: PlanInputs, done: Mapping[str, Decision]) -> Decision:
    d = new_decision(node)
    if node.language == "python":
        d.action, d.rule, d.reason = (
            BUILD,
            "SAO D11",
            "Python models are not supported by state-aware orchestration",
        )
        d.short, d.confidence = "Python model: always built", "certain"
        return d
    if node.materialized == "ephemeral":
        d.action, d.rule, d.reason, d.short, d.confidence = (
            NOOP,
            "SAO D17",
            "ephemeral",
            "ephemeral: nothing to build",
            "certain",
        )
        return d
    ns, why = node_state(node, inp)
    if ns is None or ns.last_success_at is None:
        if ns is None and not inp.state.nodes:
            d.action, d.rule, d.reason, d.short = UNKNOWN, "SAO 1.5.4", why, "no state for this model"
            d.missing.append("state (a run's manifest.json + run_results.json)")
            return d
        d.action, d.rule, d.reason, d.short = (
            BUILD,
            "SAO D15" if "cleared" in why else "SAO 1.5.4",
            "New changes detected",
            why,
        )
        return d
    d.last_build = ns.last_success_at
    if ns.relation_exists is False:
        d.action, d.rule, d.reason = BUILD, "SAO D12", "New changes detected"
        d.short = "table missing in the warehouse"
        d.notes.append(
            "SAO detects deleted tables and rebuilds them (D12); dbt State rebuilds too (no target)."
        )
        return d
    if ns.failed_tests:
        d.action, d.rule, d.reason = BUILD, "SAO D13", "New changes detected"
        d.short = f"a data test failed on the last run ({ns.failed_tests[0].split('.')[2]})"
        return d
    window, updates_on, wsetting, wnotes = build_after(node)
    d.notes.extend(wnotes)
    d.window, d.window_setting = window, wsetting
    change, cosmetic = code_change(
        node,
        ns,
        current_text(node, inp),
        inp.index.macro_hashes,
        inp.index,
        inp.file_text,
        recorded=lambda: inp.recorded_code.get(node.unique_id),
        ignore_aliases=False,  # SAO's docs name whitespace and comments only (spec sao.md D4)
    )
    d.code_change = change
    if cosmetic:
        d.confidence = "uncertain"
        d.notes.append(f"{change}: SAO probably ignores this (spec Q1)")
        change = ""
    parents = _parents(node, ns, inp, done)
    d.parents = parents
    unknown = [p for p in parents if p.new_data is None]
    new = [p for p in parents if p.new_data]
    data_changed = (bool(parents) and len(new) == len(parents)) if updates_on == "all" else bool(new)
    if (
        not change
        and not data_changed
        and unknown
        and (updates_on == "any" or len(new) + len(unknown) == len(parents))
    ):
        elapsed_s = (inp.at - ns.last_success_at).total_seconds()
        if window and elapsed_s < window:
            # new data or not, the build_after window holds the model back (D9): reuse either way
            d.action, d.rule = REUSE, "SAO D9"
            d.eligible_at = ns.last_success_at + timedelta(seconds=window)
            d.reason = (
                f"Reused either way: no new changes, or new changes within build_after of {humantime(window)}"
            )
            d.short = f"build_after {humantime(window)} not met — eligible in {ago(d.eligible_at - inp.at)}"
            d.notes.append(
                f"whether upstream has new data is unknown ({unknown[0].why}); the window holds either way"
            )
            return d
        d.action, d.rule, d.short = UNKNOWN, "SAO 1.5.6", unknown[0].why
        d.missing.extend(p.why for p in unknown)
        d.reason = "cannot tell whether upstream has new data"
        return d
    if not change and not data_changed:
        d.action = REUSE
        if updates_on == "all" and new:
            d.rule, d.reason = "SAO D8", "No new changes on all upstreams"
            d.short = f"updates_on: all — {len(new)} of {len(parents)} parents have new data"
        else:
            d.rule, d.reason = "SAO 1.5.7", "No new changes on any upstreams"
            d.short = "no new data upstream" if parents else "no code change (no parents)"
        return d
    trigger = f"code changed ({change})" if change else new[0].why
    if window is None:
        d.action, d.rule, d.reason = UNKNOWN, "SAO D9", "build_after window cannot be read"
        d.short = f"{trigger}; build_after is dynamic"
        d.missing.append("a literal build_after count and period")
        return d
    elapsed = inp.at - ns.last_success_at
    if window > 0 and elapsed.total_seconds() < window:
        d.action, d.rule = REUSE, "SAO D9"
        d.eligible_at = ns.last_success_at + timedelta(seconds=window)
        d.reason = (
            f"New changes detected. Did not meet build_after of {humantime(window)}. "
            f"Last updated {humantime(int(elapsed.total_seconds()))} ago"
        )
        d.short = f"build_after {humantime(window)} not met — eligible in {ago(d.eligible_at - inp.at)}"
        d.notes.append(f"change seen: {trigger}")
        return d
    d.action, d.rule, d.reason = BUILD, "SAO 1.5.9", "New changes detected"
    d.short = trigger
    return d
