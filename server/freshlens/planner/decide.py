"""Predict, per model, what the next state-aware run does: build, reuse, no-op or unknown — and why.

Pure: takes the project index, a state snapshot, current source freshness and a clock; returns
``Decision`` values. Two regimes:

* ``sao`` — spec/sao.md §1.5 (D1–D19): ``build_after`` measured since the model's last successful
  build, gating code changes too; ``updates_on`` any/all over direct parents; default ``count: 0``.
* ``dbt-state`` — spec/dbt-state.md §1.5 (R1–R22, §2–§4): ``lag_tolerance`` (45m default, falls back
  to ``build_after``) against upstream data time; a code change always rebuilds; views are judged on
  their own SQL only (tolerance 0), ``select *`` views always rebuild.

Models are evaluated in DAG order, so a parent predicted to build counts as new data for its children
in the same run.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from freshlens.durations import PERIOD_SECONDS, DurationError, format_seconds, parse_duration
from freshlens.index import Effective, Node, ProjectIndex, Setting
from freshlens.model import Dynamic
from freshlens.state.artifacts import normalised_code
from freshlens.state.freshness import SourceFreshnessNow
from freshlens.state.snapshot import NodeState, StateSnapshot

BUILD, REUSE, NOOP, UNKNOWN = "build", "reuse", "no-op", "unknown"
DEFAULT_TOLERANCE = 45 * 60
# ``select *``, ``select t.*`` and a ``*``/``t.*`` later in a select list (``select id, t.*``), not ``count(*)``
_SELECT_STAR = re.compile(
    r"(?:\bselect\s+(?:distinct\s+)?|,\s*)(?:[A-Za-z_][A-Za-z0-9_]*\.)?\*", re.IGNORECASE
)


@dataclass(slots=True)
class ParentStatus:
    unique_id: str
    kind: str  # source | model | seed | snapshot
    new_data: bool | None  # None = unknown
    why: str
    at: datetime | None = None  # time of the new data / last build


@dataclass(slots=True)
class Decision:
    unique_id: str
    name: str
    path: str | None
    action: str
    reason: str  # the dbt reason string where dbt has one, else ours
    rule: str  # e.g. "SAO D9", "STATE R16"
    short: str  # the lens text after the action
    confidence: str = "likely"  # certain | likely | approximate | uncertain
    last_build: datetime | None = None
    eligible_at: datetime | None = None
    window: int | None = None  # seconds (build_after or lag tolerance)
    window_setting: Setting | None = None
    code_change: str = ""  # "" | what changed
    parents: list[ParentStatus] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return {BUILD: "Build", REUSE: "Reuse", NOOP: "No-op", UNKNOWN: "Unknown"}.get(
            self.action, self.action
        )

    @property
    def lens(self) -> str:
        return f"{self.label} · {self.short}"

    def evidence(self) -> dict[str, Any]:
        return {
            "last_build": _iso(self.last_build),
            "eligible_at": _iso(self.eligible_at),
            "window_seconds": self.window,
            "window_set_by": (
                f"{self.window_setting.path}:{self.window_setting.key_node.span.line + 1}"
                if self.window_setting
                else None
            ),
            "code_change": self.code_change or None,
            "confidence": self.confidence,
            "parents": [
                {
                    "unique_id": p.unique_id,
                    "kind": p.kind,
                    "new_data": p.new_data,
                    "why": p.why,
                    "at": _iso(p.at),
                }
                for p in self.parents
            ],
            "notes": self.notes,
            "missing": self.missing,
        }


def _iso(d: datetime | None) -> str | None:
    return d.isoformat().replace("+00:00", "Z") if d else None


def ago(delta: timedelta) -> str:
    """Short human text for a duration: '12 min', '2h 48m', '3 days'."""
    s = int(delta.total_seconds())
    if s < 0:
        s = 0
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        h, m = divmod(s // 60, 60)
        return f"{h}h {m}m" if m else f"{h}h"
    d = s // 86400
    h = (s % 86400) // 3600
    return f"{d} day{'s' if d != 1 else ''}" + (f" {h}h" if h else "")


def humantime(seconds: int) -> str:
    """``humantime::format_duration`` style used in dbt's reason strings: '1h', '42m 20s'."""
    return format_seconds(seconds)


# ------------------------------------------------------------------------------------------------
# configs


def build_after(node: Node) -> tuple[int | None, str, Setting | None, list[str]]:
    """(window seconds or None, updates_on, setting, notes) from the effective model freshness."""
    eff: Effective = node.eff("freshness")
    notes: list[str] = []
    v = eff.value
    if isinstance(v, Dynamic):
        return None, "any", eff.setting, [f"freshness is dynamic ({v.text}): the window cannot be read"]
    if not isinstance(v, dict):
        return 0, "any", None, notes
    ba = v.get("build_after")
    if not isinstance(ba, dict):
        return 0, "any", eff.setting, notes
    upd = ba.get("updates_on") or "any"
    c, p = ba.get("count"), ba.get("period")
    if isinstance(c, Dynamic) or isinstance(p, Dynamic):
        return (
            None,
            str(upd),
            eff.setting,
            ["build_after count/period are dynamic: the window cannot be read"],
        )
    if c is None or p is None:
        return 0, str(upd), eff.setting, notes
    if not isinstance(c, int) or isinstance(c, bool) or p not in PERIOD_SECONDS:
        return (
            None,
            str(upd),
            eff.setting,
            ["build_after is invalid (see the diagnostics): the window cannot be read"],
        )
    return max(c, 0) * PERIOD_SECONDS[str(p)], str(upd), eff.setting, notes


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


# ------------------------------------------------------------------------------------------------
# code change


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_SNAPSHOT_BLOCK = re.compile(r"\{%-?\s*snapshot\s+(\w+)\s*-?%\}(.*?)\{%-?\s*endsnapshot\s*-?%\}", re.DOTALL)


def raw_code(node: Node, file_text: str) -> str:
    """What dbt stores as ``raw_code``: the stripped file, or a snapshot block's body."""
    if node.resource_type == "snapshot":
        for m in _SNAPSHOT_BLOCK.finditer(file_text):
            if m.group(1) == node.name:
                return m.group(2)
    return file_text.strip()


def code_change(
    node: Node,
    ns: NodeState,
    file_text: str | None,
    macros: Mapping[str, str] | None = None,
    index: ProjectIndex | None = None,
    texts: Mapping[str, str] | None = None,
) -> tuple[str, bool]:
    """(what changed, cosmetic_only). ``""`` when nothing we can see changed.

    Compared with the last build's fingerprint: the SQL body (comments/whitespace-only edits are
    "cosmetic"), the materialization, the project's macros the model calls (spec sao.md C2
    `modified.macros`), and the relation (D4: database/schema/alias changes bust the cache).
    """
    macros = macros or {}
    fp = ns.fingerprint
    if fp is None or file_text is None:
        return "", False
    raw = raw_code(node, file_text)
    if _sha(raw) != fp.raw_code_sha256:
        if _sha(normalised_code(raw)) == fp.normalised_code_sha256:
            return "comments/whitespace only", True
        return "SQL body", False
    mat = node.materialized
    if isinstance(mat, str) and fp.materialized and mat != fp.materialized:
        return f"materialization ({fp.materialized} → {mat})", False
    for eid, h in fp.ephemeral_code:
        enode = index.nodes.get(eid) if index is not None else None
        etext = texts.get(enode.path) if enode is not None and enode.path and texts is not None else None
        if enode is not None and etext is not None:
            eraw = raw_code(enode, etext)
            if _sha(eraw) != h:  # its SQL is inlined here: any edit changes this model's compiled SQL
                return f"ephemeral parent {enode.name}", False
    for mid, h in fp.macro_hashes:
        cur = macros.get(mid)
        if cur is not None and cur != h:
            return f"macro {mid.split('.')[-1]}", False
    alias = node.eff("alias").value
    ident = (
        alias if isinstance(alias, str) else (f"{node.name}_v{node.version}" if node.version else node.name)
    )
    if (
        fp.relation.identifier
        and node.resource_type == "model"
        and ident.lower() != fp.relation.identifier.lower()
    ):
        return f"relation ({fp.relation.identifier} → {ident})", False
    schema = node.eff("schema").value
    if (
        isinstance(schema, str)
        and fp.relation.schema
        and not fp.relation.schema.lower().endswith(schema.lower())
    ):
        return f"relation (schema {fp.relation.schema} → …{schema})", False
    return "", False


# ------------------------------------------------------------------------------------------------
# the planner


@dataclass(slots=True)
class PlanInputs:
    index: ProjectIndex
    state: StateSnapshot
    freshness: Mapping[str, SourceFreshnessNow]
    at: datetime
    regime: str  # sao | dbt-state
    file_text: Mapping[str, str] = field(default_factory=dict)  # path -> current text
    freshness_origin: str = ""  # where current source freshness came from ("" = none)


def choose_regime(index: ProjectIndex, setting: str) -> str:
    if setting in ("sao", "dbt-state"):
        return setting
    return "dbt-state" if any("state" in n.settings for n in index.nodes.values()) else "sao"


def plan(inp: PlanInputs) -> dict[str, Decision]:
    out: dict[str, Decision] = {}
    idx = inp.index
    for uid in idx.topo_order():
        node = idx.nodes[uid]
        if node.resource_type != "model" and node.resource_type not in ("seed", "snapshot"):
            continue
        if node.package != idx.name:
            continue
        d = decide_sao(node, inp, out) if inp.regime == "sao" else decide_state(node, inp, out)
        out[uid] = d
    return out


def _base(node: Node) -> Decision:
    return Decision(node.unique_id, node.display, node.path, UNKNOWN, "", "", "")


def _no_state(node: Node, inp: PlanInputs) -> tuple[NodeState | None, str]:
    ns = inp.state.node(node.unique_id)
    if ns is None:
        if not inp.state.nodes:
            return None, "no state: ingest a run's artifacts with `freshlens state ingest DIR`"
        return None, "never built in this environment (not in the state)"
    if ns.last_success_at is None:
        if inp.state.cleared_at is not None:
            return ns, f"state cleared at {_iso(inp.state.cleared_at)}"
        return ns, "no successful build recorded"
    return ns, ""


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
        return ParentStatus(sid, "source", True, f"source {name} counts as new data ({_d6(now)})")
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


def _d6(now: SourceFreshnessNow) -> str:
    """A short form of why a source cannot be measured (spec sao.md D6)."""
    note = (now.note or "").lower()
    if "view" in note:
        return "a view without loaded_at_*, D6.1"
    if "could not find" in note or "missing" in note:
        return "no freshness result, D6.2"
    if "null" in note:
        return "freshness: null, D6.3"
    if "failed" in note or "error" in note:
        return "freshness query failed, D6.2"
    return "not measurable, D6"


def _kind_name(uid: str, inp: PlanInputs) -> tuple[str, str]:
    """("model", "stg_orders") for a node id, from the index when it is there."""
    node = inp.index.nodes.get(uid)
    return (node.resource_type, node.display) if node else (uid.split(".")[0], uid)


def _node_parent_status(
    pid: str, ns: NodeState, inp: PlanInputs, done: Mapping[str, Decision]
) -> ParentStatus:
    kind, name = _kind_name(pid, inp)
    pd = done.get(pid)
    if pd is not None and pd.action == BUILD:
        return ParentStatus(pid, kind, True, f"{kind} {name} builds in this run", inp.at)
    pstate = inp.state.node(pid)
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
    for pid in node.parents:
        if pid in seen:
            continue
        seen.add(pid)
        p = inp.index.nodes.get(pid)
        if p is not None and p.resource_type == "model" and p.materialized == "ephemeral":
            # D17: an ephemeral is inlined into this model, so its parents are this model's parents
            out.extend(_parents(p, ns, inp, done, seen))
        elif pid.startswith("source."):
            out.append(_source_status(pid, ns, inp))
        else:
            out.append(_node_parent_status(pid, ns, inp, done))
    return out


def _file_text(node: Node, inp: PlanInputs) -> str | None:
    if node.path is None:
        return None
    return inp.file_text.get(node.path)


def decide_sao(node: Node, inp: PlanInputs, done: Mapping[str, Decision]) -> Decision:
    d = _base(node)
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
    ns, why = _no_state(node, inp)
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
        node, ns, _file_text(node, inp), inp.index.macro_hashes, inp.index, inp.file_text
    )
    d.code_change = change
    if cosmetic:
        d.confidence = "uncertain"
        d.notes.append("only comments/whitespace changed: SAO probably ignores this (spec Q1)")
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
    d = _base(node)
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
    ns, why = _no_state(node, inp)
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
        node, ns, _file_text(node, inp), inp.index.macro_hashes, inp.index, inp.file_text
    )
    d.code_change = change
    if change and not cosmetic:
        d.action, d.rule, d.reason, d.confidence = BUILD, "STATE R14", "query changed", "likely"
        d.short = f"code changed ({change})"
        return d
    if cosmetic:
        d.notes.append("only comments/whitespace changed: dbt State ignores cosmetic changes (semantic hash)")
    text = _file_text(node, inp) or ""
    if mat == "view" and _SELECT_STAR.search(normalised_code(text)):
        d.action, d.rule, d.reason, d.short = (
            BUILD,
            "STATE R18",
            "views with select * are always rebuilt",
            "view with select *: always rebuilt",
        )
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
            return ParentStatus(leaf, "source", None, f"source {name}: time unknown ({_d6(now)})")
        return ParentStatus(leaf, "source", None, f"source {name}", now.max_loaded_at)
    kind, name = _kind_name(leaf, inp)
    pd = done.get(leaf)
    if pd is not None and pd.action == BUILD:
        return ParentStatus(leaf, kind, None, f"{kind} {name} builds in this run", inp.at)
    ps = inp.state.node(leaf)
    if ps is None or ps.last_success_at is None:
        return ParentStatus(leaf, kind, None, f"{kind} {name}: no build recorded")
    return ParentStatus(leaf, kind, None, f"{kind} {name}", ps.last_success_at)
