"""The report's data: one row per predicted model, the lineage graph, and the summary line.

The result is plain JSON (``dict``/``list``/``str``/``int``/``bool``/``None``) so the CLI can embed it
in HTML and the language server can return it as a command result unchanged.

Which edges carry new data: an edge ``parent → child`` does when the child is predicted to build and
the parent gives it new data in this run — the planner counted the parent as new data for it
(``ParentStatus.new_data``: a source loaded since, a parent built since), or the parent builds in this
run too (under dbt State a descendant of a changed model builds on its rebuilt output, R15). Followed
from a source with new data or a changed model, those edges are the path the new data takes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from freshlens.durations import format_seconds
from freshlens.index import ProjectIndex
from freshlens.planner.core import BUILD, NOOP, REUSE, UNKNOWN, Decision, iso
from freshlens.planner.gather import PlanResult

REPORT_VERSION = 1
ACTIONS = (BUILD, REUSE, NOOP, UNKNOWN)  # the report's order: what runs first
_ORDER = {a: i for i, a in enumerate(ACTIONS)}


def _tags(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [t for t in value if isinstance(t, str)]
    return []  # unset, or dynamic (the value cannot be read without rendering)


def _window(d: Decision, regime: str) -> str:
    """``build_after 4h`` / ``lag_tolerance 30m``; empty when the decision has no window."""
    if d.window is None:
        return ""
    what = "build_after" if regime == "sao" else "lag_tolerance"
    return f"{what} {format_seconds(d.window)}" if d.window else f"{what} 0"


def _rel(path: str | None, root: str) -> str | None:
    return os.path.relpath(path, root).replace(os.sep, "/") if path else None


def _row(d: Decision, idx: ProjectIndex, res: PlanResult) -> dict[str, Any]:
    node = idx.nodes.get(d.unique_id)
    # a snapshot or seed declared in YAML only has its properties file to open
    file = _rel(d.path or (node.props_path if node else None), idx.dir)
    return {
        "id": d.unique_id,
        "name": d.name,
        "kind": node.resource_type if node else d.unique_id.split(".")[0],
        "action": d.action,
        "short": d.short,
        "reason": d.reason,
        "rule": d.rule,
        "confidence": d.confidence,
        "last_build": iso(d.last_build),
        "window": _window(d, res.regime),
        "window_seconds": d.window,
        "project": idx.name,
        "folder": os.path.dirname(file) if file else "",
        "tags": _tags(node.eff("tags").value) if node else [],
        "file": file,
    }


def _graph(idx: ProjectIndex, res: PlanResult) -> tuple[list[dict[str, Any]], list[tuple[str, str, bool]]]:
    """Nodes (every decided model and the sources/nodes it reads) and edges ``(parent, child, new_data)``."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[tuple[str, str, bool]] = []
    for uid, d in res.decisions.items():
        nodes[uid] = {
            "id": uid,
            "name": d.name,
            "kind": _row_kind(idx, uid),
            "action": d.action,
            "project": idx.name,
        }
    for uid, d in res.decisions.items():
        node = idx.nodes.get(uid)
        if node is None:
            continue
        new = {p.unique_id for p in d.parents if p.new_data is True} if d.action == BUILD else set()
        for pid in node.parents:
            if pid not in nodes:
                nodes[pid] = _outside_node(idx, pid)
            parent = res.decisions.get(pid)
            carries = pid in new or (d.action == BUILD and parent is not None and parent.action == BUILD)
            edges.append((pid, uid, carries))
            if carries and nodes[pid]["kind"] == "source":
                nodes[pid]["new_data"] = True
    return list(nodes.values()), edges


def _row_kind(idx: ProjectIndex, uid: str) -> str:
    node = idx.nodes.get(uid)
    return node.resource_type if node else uid.split(".")[0]


def _outside_node(idx: ProjectIndex, uid: str) -> dict[str, Any]:
    """A parent that has no decision: a source, or a node of a package / disabled node (never run here)."""
    src = idx.sources.get(uid)
    if src is not None:
        return {
            "id": uid,
            "name": src.display,
            "kind": "source",
            "action": "source",
            "new_data": False,
            "project": idx.name,
        }
    node = idx.nodes.get(uid)
    name = node.display if node else uid.split(".", 2)[-1]
    return {"id": uid, "name": name, "kind": _row_kind(idx, uid), "action": "outside", "project": idx.name}


def summary_line(counts: dict[str, int]) -> str:
    """'The next run would rebuild 14 of 20 models (5 reuse, 1 unknown).' — what a PR comment leads with."""
    total = sum(counts.values())
    n = counts.get(BUILD, 0)
    rest = ", ".join(f"{counts[a]:,} {a}" for a in ACTIONS[1:] if counts.get(a))
    others = sorted(a for a in counts if a not in _ORDER)
    rest = ", ".join([rest, *(f"{counts[a]:,} {a}" for a in others)]) if others else rest
    noun = "model" if total == 1 else "models"
    return f"The next run would rebuild {n:,} of {total:,} {noun}" + (f" ({rest})." if rest else ".")


def build_report(plans: Iterable[tuple[ProjectIndex, PlanResult]], root: bool = False) -> dict[str, Any]:
    """The report over one or more projects. ``root=True`` adds each project's absolute folder (the
    editor opens files from it); the CLI leaves it out so a report attached to a PR names no machine path.
    """
    projects: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    gnodes: dict[str, dict[str, Any]] = {}  # a package's node can be a parent in two projects
    gedges: list[tuple[str, str, bool]] = []
    counts: dict[str, int] = {}
    for idx, res in plans:
        pc = res.counts()
        for k, v in pc.items():
            counts[k] = counts.get(k, 0) + v
        projects.append(
            {
                "project": idx.name,
                "root": idx.dir if root else None,
                "regime": res.regime,
                "at": iso(res.at),
                "state": _rel(res.state_origin, idx.dir)
                if os.path.isabs(res.state_origin)
                else res.state_origin,
                "freshness": res.freshness_origin or None,
                "counts": pc,
                "summary": summary_line(pc),
                "problems": list(res.problems),
            }
        )
        decided = sorted(res.decisions.values(), key=lambda d: (_ORDER.get(d.action, 9), d.name))
        rows.extend(_row(d, idx, res) for d in decided)
        n, e = _graph(idx, res)
        for g in n:
            if g["id"] not in gnodes or g["action"] not in ("source", "outside"):
                gnodes[g["id"]] = g
        gedges.extend(e)
    # edges as [parent index, child index, 1 if new data flows] keep a 10,000-model report small
    at = {uid: i for i, uid in enumerate(gnodes)}
    return {
        "version": REPORT_VERSION,
        "summary": summary_line(counts),
        "counts": counts,
        "projects": projects,
        "rows": rows,
        "graph": {
            "nodes": list(gnodes.values()),
            "edges": [[at[p], at[c], 1 if new else 0] for p, c, new in gedges],
        },
    }
