"""The shared core of the planner: the inputs it reads, the decisions it returns, and the text
helpers both regimes use to explain them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from freshlens.durations import PERIOD_SECONDS, format_seconds
from freshlens.index import Effective, Node, ProjectIndex, Setting
from freshlens.model import Dynamic
from freshlens.state.freshness import SourceFreshnessNow
from freshlens.state.snapshot import NodeState, StateSnapshot

BUILD, REUSE, NOOP, UNKNOWN = "build", "reuse", "no-op", "unknown"


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
            "last_build": iso(self.last_build),
            "eligible_at": iso(self.eligible_at),
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
                    "at": iso(p.at),
                }
                for p in self.parents
            ],
            "notes": self.notes,
            "missing": self.missing,
        }


def iso(d: datetime | None) -> str | None:
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


# The explanation of a decision: one Markdown text for hovers and ``freshlens explain``.


def _when(d: datetime | None, now: datetime) -> str:
    if d is None:
        return "unknown"
    rel = ago(now - d) + " ago" if d <= now else "in " + ago(d - now)
    return f"{d.strftime('%Y-%m-%d %H:%M')} UTC ({rel})"


def explain_markdown(
    d: Decision,
    at: datetime,
    regime: str,
    root: str = "",
    state_source: str | None = None,
    state_at: datetime | None = None,
) -> str:
    """The explanation of one decision; ``state_source``/``state_at``: the newest run the state holds."""
    lines = [f"### {d.label}: {d.name}", "", f"**{d.short}**", ""]
    if d.reason:
        lines.append(f"- dbt reason: `{d.reason}`")
    lines.append(
        f"- decided by rule **{d.rule}** ({'SAO' if regime == 'sao' else 'dbt State'} regime), confidence: {d.confidence}"
    )
    lines.append(f"- predicted for: {at.strftime('%Y-%m-%d %H:%M')} UTC")
    if state_at is not None:
        src = state_source or "an ingested run"
        if root and os.path.isabs(src):
            src = os.path.relpath(src, root)
        lines.append(f"- state: newest run from {src}, generated {_when(state_at, at)}")
    lines.append(f"- last successful build: {_when(d.last_build, at)}")
    if d.code_change:
        lines.append(f"- code change since that build: {d.code_change}")
    if d.window is not None:
        what = "build_after" if regime == "sao" else "tolerance"
        src = ""
        if d.window_setting is not None:
            rel = os.path.relpath(d.window_setting.path, root) if root else d.window_setting.path
            line = d.window_setting.key_node.span.line + 1
            src = f" — set in [{rel}:{line}](file://{d.window_setting.path}#L{line})"
        lines.append(f"- {what}: {humantime(d.window) if d.window else '0 (no time gate)'}{src}")
    if d.eligible_at is not None:
        if regime == "sao":
            lines.append(f"- eligible to build: {_when(d.eligible_at, at)}")
        else:
            lines.append(f"- rebuilds on upstream data newer than: {_when(d.eligible_at, at)}")
    if d.parents:
        lines.append("")
        lines.append("**Upstream:**")
        for p in d.parents:
            mark = {True: "new data", False: "no new data", None: "unknown"}[p.new_data]
            lines.append(f"- `{p.unique_id}` — {mark}: {p.why}")
    if d.missing:
        lines.append("")
        lines.append("**Missing inputs:** " + "; ".join(d.missing))
    if d.notes:
        lines.append("")
        lines.extend(f"> {n}" for n in d.notes)
    return "\n".join(lines)


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


@dataclass(slots=True)
class PlanInputs:
    index: ProjectIndex
    state: StateSnapshot
    freshness: Mapping[str, SourceFreshnessNow]
    at: datetime
    regime: str  # sao | dbt-state
    file_text: Mapping[str, str] = field(default_factory=dict)  # path -> current text
    freshness_origin: str = ""  # where current source freshness came from ("" = none)
    # unique id -> the raw code of the node's last successful build, where an artifact holding it
    # was found and its hash matched the state (lets code changes be compared by SQL structure)
    recorded_code: Mapping[str, str] = field(default_factory=dict)


def new_decision(node: Node) -> Decision:
    return Decision(node.unique_id, node.display, node.path, UNKNOWN, "", "", "")


def node_state(node: Node, inp: PlanInputs) -> tuple[NodeState | None, str]:
    ns = inp.state.node(node.unique_id)
    if ns is None:
        if not inp.state.nodes:
            return None, "no state: ingest a run's artifacts with `freshlens state ingest DIR`"
        return None, "never built in this environment (not in the state)"
    if ns.last_success_at is None:
        if inp.state.cleared_at is not None:
            return ns, f"state cleared at {iso(inp.state.cleared_at)}"
        return ns, "no successful build recorded"
    return ns, ""


def unmeasurable_why(now: SourceFreshnessNow) -> str:
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


def kind_name(uid: str, inp: PlanInputs) -> tuple[str, str]:
    """("model", "stg_orders") for a node id, from the index when it is there."""
    node = inp.index.nodes.get(uid)
    return (node.resource_type, node.display) if node else (uid.split(".")[0], uid)


def current_text(node: Node, inp: PlanInputs) -> str | None:
    if node.path is None:
        return None
    return inp.file_text.get(node.path)
