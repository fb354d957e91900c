"""Explanations of a decision: one Markdown text for hovers and ``freshlens explain``."""

from __future__ import annotations

import os
from datetime import datetime

from freshlens.planner.decide import Decision, ago, humantime


def _when(d: datetime | None, now: datetime) -> str:
    if d is None:
        return "unknown"
    rel = ago(now - d) + " ago" if d <= now else "in " + ago(d - now)
    return f"{d.strftime('%Y-%m-%d %H:%M')} UTC ({rel})"


def explain_markdown(d: Decision, at: datetime, regime: str, root: str = "") -> str:
    lines = [f"### {d.label}: {d.name}", "", f"**{d.short}**", ""]
    if d.reason:
        lines.append(f"- dbt reason: `{d.reason}`")
    lines.append(
        f"- decided by rule **{d.rule}** ({'SAO' if regime == 'sao' else 'dbt State'} regime), confidence: {d.confidence}"
    )
    lines.append(f"- predicted for: {at.strftime('%Y-%m-%d %H:%M')} UTC")
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
