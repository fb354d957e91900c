"""The dbt State regime — spec/dbt-state.md §1.5 (R1–R22, §2–§4).

``lag_tolerance`` (45m default, falls back to ``build_after``) against upstream data time; a code
change always rebuilds; views are judged on their own SQL only (tolerance 0), and a view whose
``select *`` reads straight from a relation always rebuilds (§5.1, scope analysis with sqlglot);
custom materializations always build (§7.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from freshlens.durations import PERIOD_SECONDS, DurationError, parse_duration
from freshlens.index import Node, Setting
from freshlens.model import Dynamic
from freshlens.planner.code_change import code_change, raw_code
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
from freshlens.planner.descendants import descendant_note
from freshlens.sql import star_report
from freshlens.state.artifacts import normalised_code

DEFAULT_TOLERANCE = 45 * 60

# §7.2: materializations dbt State submits; any other is custom and always builds. dbt's own, then
# each adapter's (dbt-snowflake, dbt-databricks, dbt-duckdb, dbt-clickhouse).
CORE_MATERIALIZATIONS = frozenset(
    {"table", "view", "incremental", "ephemeral", "materialized_view", "snapshot", "seed", "test"}
)
ADAPTER_MATERIALIZATIONS: dict[str, frozenset[str]] = {
    "snowflake": frozenset({"dynamic_table"}),
    "databricks": frozenset({"streaming_table"}),
    "duckdb": frozenset({"external"}),
    "clickhouse": frozenset({"dictionary", "distributed_table", "distributed_incremental"}),
    "bigquery": frozenset(),
    "postgres": frozenset(),
    "redshift": frozenset(),
    "spark": frozenset(),
    "trino": frozenset(),
    "sqlserver": frozenset(),
    "fabric": frozenset(),
}


def tolerance(node: Node) -> tuple[int | None, str, Setting | None, str]:
    """dbt State T and policy (spec dbt-state.md §2.2, §3, §7.1): per key, state first, then build_after."""
    st = node.eff("state")
    sv = st.value if isinstance(st.value, dict) else {}
    window, upd, ba_setting, _ = build_after(node)
    fv = node.eff("freshness").value
    ba = fv.get("build_after") if isinstance(fv, dict) else None
    # §2.2/§7.1: build_after count×period is the fallback when both are set, even when it is 0
    ba_timed = isinstance(ba, dict) and ba.get("count") is not None and ba.get("period") is not None
    lt = sv.get("lag_tolerance")
    source = ""
    t: int | None
    setting: Setting | None
    if isinstance(lt, Dynamic):
        return None, "any", st.setting, "lag_tolerance is dynamic"
    if isinstance(lt, str):
        try:
            t, setting, source = parse_duration(lt).seconds, st.setting, f"lag_tolerance {lt}"
        except DurationError:
            return None, "any", st.setting, "lag_tolerance is invalid"
    elif isinstance(lt, dict) and lt.get("count") is not None and lt.get("period") in PERIOD_SECONDS:
        c = lt["count"]
        t = int(c) * PERIOD_SECONDS[lt["period"]] if isinstance(c, int) else None
        setting, source = st.setting, f"lag_tolerance {c} {lt['period']}"
    elif window is not None and ba_timed and ba_setting is not None:
        t, setting, source = window, ba_setting, f"build_after {humantime(window)} (fallback)"
    elif window is None:
        return None, "any", ba_setting, "build_after (the fallback) is dynamic or invalid"
    else:
        t, setting, source = (
            DEFAULT_TOLERANCE,
            None,
            "default 45m (unless RUN_CACHE_FRESHNESS_TOLERANCE overrides it)",
        )
    policy = sv.get("require_fresh_data_from")
    if policy not in ("any", "all"):
        policy = upd if upd in ("any", "all") else "any"
    return t, str(policy), setting, source


def _leaves(node: Node, inp: PlanInputs, seen: set[str] | None = None) -> list[str]:
    """Upstream leaves for dbt State: sources and non-view nodes; views are traversed (§1.2, §5.1)."""
    seen = seen if seen is not None else set()
    out: list[str] = []
    for pid in node.parents:
        if pid in seen:
            continue
        seen.add(pid)
        p = inp.index.nodes.get(pid)
        if p is not None and p.resource_type == "model" and p.materialized in ("view", "ephemeral"):
            out.extend(_leaves(p, inp, seen))
        else:
            out.append(pid)
    return out


def decide_state(node: Node, inp: PlanInputs, done: Mapping[str, Decision]) -> Decision:
    d = new_decision(node)
    mat = node.materialized
    if mat == "ephemeral":
        d.action, d.rule, d.reason, d.short, d.confidence = (
            NOOP,
            "STATE R4",
            "ephemeral",
            "ephemeral: inlined, never submitted",
            "certain",
        )
        return d
    if node.language == "python":
        d.action, d.rule, d.confidence = BUILD, "STATE R5", "certain"
        d.reason = d.short = "dbt State builds Python models but does not reuse them"
        return d
    if isinstance(mat, str) and _custom_materialization(node, inp, d):
        return d
    ns, why = node_state(node, inp)
    if ns is None or ns.last_success_at is None:
        if ns is None and not inp.state.nodes:
            d.action, d.rule, d.reason, d.short = UNKNOWN, "STATE 1.5.13", why, "no state for this model"
            d.missing.append("state (a run's manifest.json + run_results.json)")
            return d
        d.action, d.rule, d.reason, d.short = BUILD, "STATE R13", "no prior execution", why
        d.notes.append(
            "a matching build in the defer environment would be cloned instead (not known locally)"
        )
        return d
    d.last_build = ns.last_success_at
    if ns.relation_exists is False:
        d.action, d.rule, d.reason, d.short = (
            BUILD,
            "STATE R13",
            "no prior execution",
            "table missing in the warehouse",
        )
        d.notes.append("dbt State: the target must exist to reuse; SAO also rebuilds deleted tables (D12).")
        return d
    change, cosmetic = code_change(
        node,
        ns,
        current_text(node, inp),
        inp.index.macro_hashes,
        inp.index,
        inp.file_text,
        recorded=lambda: inp.recorded_code.get(node.unique_id),
    )
    d.code_change = change
    if change and not cosmetic:
        d.action, d.rule, d.reason, d.confidence = BUILD, "STATE R14", "query changed", "likely"
        d.short = f"code changed ({change})"
        if change == "SQL body" and inp.recorded_code.get(node.unique_id) is None:
            d.notes.append(
                "the SQL of the last build is not at hand (it is read from the last run's manifest.json), "
                "so an edit that only changes layout or table aliases cannot be told apart (§4 C1)"
            )
        return d
    if cosmetic:
        d.notes.append(f"{change}: dbt State ignores cosmetic changes (semantic hash, §4 C1)")
    if mat == "view" and _view_select_star(node, inp, d):
        return d
    for pid in node.parents:
        pd = done.get(pid)
        if (
            pd is not None
            and pd.action == BUILD
            and pd.rule in ("STATE R14", "STATE R15")
            and not pid.startswith("seed.")
        ):
            d.action, d.rule, d.reason = BUILD, "STATE R15", "upstream query changed"
            d.short = f"upstream {pd.name} query changed"
            d.notes.append(descendant_note(node, pd, inp))
            return d
    if mat == "view":
        d.action, d.rule, d.reason, d.confidence = (
            REUSE,
            "STATE R18",
            "No new changes on any upstreams",
            "likely",
        )
        d.short = "view unchanged (views ignore upstream data)"
        return d
    t, policy, tsetting, tsource = tolerance(node)
    d.window, d.window_setting = t, tsetting
    d.notes.append(f"tolerance: {tsource}; policy: {policy}")
    if t is None:
        d.action, d.rule, d.reason, d.short = UNKNOWN, "STATE V11", "lag_tolerance cannot be read", tsource
        d.missing.append("a literal lag_tolerance")
        return d
    b = ns.last_success_at
    statuses: list[ParentStatus] = []
    outdated, within, unknown = [], [], []
    for leaf in _leaves(node, inp):
        ps = _leaf_time(leaf, inp, done)
        statuses.append(ps)
        if ps.at is None:
            unknown.append(ps)
            ps.at = inp.at  # the service treats an unknown upstream time as "now" (§7.4)
        if ps.at <= b:
            ps.new_data = False
            ps.why += " — fresh (no update since the last build)"
            continue
        lag = (ps.at - b).total_seconds()
        ps.new_data = True
        if lag > t:
            outdated.append(ps)
            ps.why += f" — outdated (updated {ago(ps.at - b)} after the last build, tolerance {humantime(t)})"
        else:
            within.append(ps)
            ps.why += f" — within tolerance (updated {ago(ps.at - b)} after the last build)"
    d.parents = statuses
    d.confidence = "approximate"
    n = len(statuses)
    stale = (len(outdated) == n and n > 0) if policy == "all" else bool(outdated)
    if stale:
        d.action, d.rule, d.reason = BUILD, "STATE R16", "upstream data out of date"
        d.short = outdated[0].why.split(" — ")[0] + f" (beyond {humantime(t)})"
        if any(p in unknown for p in outdated):
            d.notes.append("an upstream time is unknown and counts as 'now' (§7.4), which makes it outdated")
        return d
    if unknown:
        d.action, d.rule, d.reason = UNKNOWN, "STATE 1.5.13", "upstream data time unknown"
        d.short = unknown[0].why
        d.missing.extend(p.why for p in unknown)
        d.notes.append("the service treats an unknown upstream time as 'now' (§7.4): it may rebuild")
        return d
    if within or outdated:
        # A1: an upstream is outdated once its data is newer than B + T; until new data lands after
        # that moment the model is reused, however much wall-clock time passes.
        d.eligible_at = b + timedelta(seconds=t)
        d.action, d.rule = REUSE, "STATE R16"
        d.reason = f"New changes detected. Did not meet lag_tolerance of {humantime(t)}"
        when = (
            d.eligible_at.strftime("%H:%M")
            if d.eligible_at.date() == inp.at.date()
            else d.eligible_at.strftime("%b %d %H:%M")
        )
        if policy == "all" and outdated:
            # §3: under `all` it is reused because not every upstream is outdated, whatever the others' lag
            waiting = [p for p in statuses if p not in outdated]
            names = ", ".join(_display(p.unique_id, inp) for p in waiting)
            d.short = f"waiting for {names}: {len(outdated)} of {n} upstreams outdated"
            d.notes.append(
                "require_fresh_data_from: all — dbt State builds only once every upstream is outdated; "
                f"still waiting for {names} (data newer than {d.eligible_at.strftime('%Y-%m-%d %H:%M')} UTC)"
            )
            return d
        d.short = f"lag_tolerance {humantime(t)} not met — builds on data newer than {when} UTC"
        d.notes.append(
            "dbt State compares upstream data time with the last build (spec model A1): data that arrived "
            f"within {humantime(t)} of the build does not rebuild it; data newer than "
            f"{d.eligible_at.strftime('%Y-%m-%d %H:%M')} UTC would"
        )
        return d
    d.action, d.rule, d.reason = REUSE, "STATE R16", "No new changes on any upstreams"
    d.short = "no new data upstream" if statuses else "no code change (no upstream tables)"
    return d


def _leaf_time(leaf: str, inp: PlanInputs, done: Mapping[str, Decision]) -> ParentStatus:
    if leaf.startswith("source."):
        st = inp.index.sources.get(leaf)
        name = st.display if st else leaf
        now = inp.freshness.get(leaf)
        if now is None:
            return ParentStatus(leaf, "source", None, f"no current freshness for source {name}")
        if now.counts_as_new_data or now.max_loaded_at is None:
            return ParentStatus(
                leaf, "source", None, f"source {name}: time unknown ({unmeasurable_why(now)})"
            )
        return ParentStatus(leaf, "source", None, f"source {name}", now.max_loaded_at)
    kind, name = kind_name(leaf, inp)
    pd = done.get(leaf)
    if pd is not None and pd.action == BUILD:
        return ParentStatus(leaf, kind, None, f"{kind} {name} builds in this run", inp.at)
    ps = inp.state.node(leaf)
    if ps is None or ps.last_success_at is None:
        return ParentStatus(leaf, kind, None, f"{kind} {name}: no build recorded")
    return ParentStatus(leaf, kind, None, f"{kind} {name}", ps.last_success_at)


def _display(uid: str, inp: PlanInputs) -> str:
    src = inp.index.sources.get(uid)
    return src.display if src is not None else kind_name(uid, inp)[1]


def _custom_materialization(node: Node, inp: PlanInputs, d: Decision) -> bool:
    """§7.2 (amended 2026-09): a custom materialization is always built, never reused."""
    mat = str(node.materialized)
    if mat in CORE_MATERIALIZATIONS:
        return False
    adapter = (inp.index.adapter_type or "").lower()
    own = ADAPTER_MATERIALIZATIONS.get(adapter)
    if own is None:
        known = frozenset().union(*ADAPTER_MATERIALIZATIONS.values())
        if mat in known:
            return False  # an adapter's own (dynamic_table, external …) on an adapter we cannot see
        d.confidence = "uncertain"
        d.notes.append(
            f"freshlens does not know the materializations of the {adapter or 'unknown'} adapter: "
            f"if `{mat}` is one of its own, dbt State may reuse this model"
        )
    elif mat in own:
        return False
    else:
        d.confidence = "likely"
    d.action, d.rule = BUILD, "STATE 7.2"
    d.reason = "dbt State builds models with custom materializations on every run"
    d.short = f"custom materialization `{mat}`: always built"
    d.notes.append(
        "custom materializations may have side effects, so dbt State cannot safely tell whether "
        "skipping the run would give the same result (§7.2)"
    )
    return True


def _view_select_star(node: Node, inp: PlanInputs, d: Decision) -> bool:
    """§5.1/R18 (amended 2026-08): a `select *` / `t.*` straight from a ref(), source() or other
    relation makes a view always build; over a CTE or subquery it does not. Decides ``d`` and
    returns True when the view builds for this reason."""
    text = current_text(node, inp)
    if text is None:
        return False
    code = raw_code(node, text)
    if "*" not in normalised_code(code):
        return False  # no `*` anywhere, so no select *: nothing to parse
    s = star_report(code, inp.index.adapter_type)
    if not s.parsed:
        d.action, d.rule, d.reason, d.confidence = (
            BUILD,
            "STATE R18",
            "views with select * are always rebuilt",
            "uncertain",
        )
        d.short = "view SQL not parsed: a select * cannot be ruled out"
        d.notes.append(
            f"the view's SQL could not be parsed ({s.problem}); dbt State rebuilds a view when it cannot "
            "prove its column set, so freshlens predicts Build (§5.1)"
        )
        return True
    if s.direct:
        star = s.direct[0]
        d.action, d.rule, d.reason, d.confidence = (
            BUILD,
            "STATE R18",
            "views with select * are always rebuilt",
            "uncertain" if s.flattened else "likely",
        )
        d.short = f"view with {star.text} from {star.relation}: always rebuilt"
        d.notes.append(
            f"`{star.text}` reads straight from {star.relation}: dbt State cannot prove the view's column "
            "set and rebuilds it every run (§5.1); selecting the columns by name, or `select *` from a CTE "
            "that names them, lets it be reused"
        )
        if s.flattened:
            d.notes.append("the view's Jinja control flow was flattened to parse it: both branches counted")
        return True
    if s.over:
        d.notes.append(
            f"`{s.over[0].text}` reads from {s.over[0].over} (a CTE or subquery), not a relation: "
            "no rebuild for select * (§5.1)"
        )
    return False
