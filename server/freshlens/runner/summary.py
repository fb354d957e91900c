"""What ``freshlens run`` prints when it is done: the platform-style summary (text) or the JSON report."""

from __future__ import annotations

import shlex

from freshlens.planner.core import iso
from freshlens.runner.run import BUILT, FAILED, NO_OP, NOT_RUN, NOT_SELECTED, REUSED, SKIPPED, RunReport


def report_json(r: RunReport) -> dict[str, object]:
    return {
        "version": 1,
        "run_id": r.run_id,
        "project": r.project,
        "regime": r.regime,
        "started_at": iso(r.started_at),
        "dry_run": r.dry_run,
        "dbt": None if r.dbt is None else {"path": r.dbt.path, "version": r.dbt.version},
        "refreshed_freshness": r.refreshed,
        "commands": [shlex.join(c) for c in r.commands],
        "exit_code": r.exit_code,
        "counts": r.counts(),
        "nodes": [
            {
                "unique_id": n.unique_id,
                "name": n.name,
                "resource_type": n.resource_type,
                "planned": n.planned,
                "outcome": n.outcome,
                "reason": n.reason,
                "rule": n.rule,
                "short": n.short,
                "message": n.message or None,
            }
            for n in r.nodes
        ],
        "test_failures": [{"unique_id": t, "status": s} for t, s in r.test_failures],
        "artifacts": r.artifacts,
    }


_SECTIONS = (
    (BUILT, "built"),
    (FAILED, "failed"),
    (SKIPPED, "skipped"),
    (NOT_RUN, "not run"),
    (REUSED, "reused"),
    (NO_OP, "no-op"),
)


def _one_line(text: str, limit: int = 300) -> str:
    """dbt's error messages span lines; the summary shows them on one (dbt's output has them whole)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def report_text(r: RunReport) -> str:
    dbt = f"dbt-core {r.dbt.version}" if r.dbt else "dbt"
    head = "freshlens run --dry-run" if r.dry_run else "freshlens run"
    lines = [f"{head} — {r.project}, regime {r.regime}, {dbt}"]
    if r.dry_run:
        if r.commands:
            lines.append("would run:")
            lines.extend(f"  {shlex.join(c)}" for c in r.commands)
        else:
            lines.append("would not run dbt: every selected model is reused")
    elif not r.commands:
        lines.append("dbt build not run: every selected model is reused")
    width = max((len(n.name) for n in r.nodes), default=10)
    for outcome, title in _SECTIONS:
        rows = r.by_outcome(outcome)
        if not rows:
            continue
        label = "to build" if r.dry_run and outcome == BUILT else title
        lines.append(f"{label} ({len(rows)}):")
        for n in rows:
            if outcome in (REUSED, NO_OP):
                text = n.reason
            elif outcome == BUILT and n.planned == "unknown":
                text = n.message
            elif outcome == BUILT:
                text = n.short or n.reason
            else:
                text = _one_line(n.message)
            lines.append(f"  {n.name:<{width}}  {text}  [{n.rule}]")
    if r.test_failures:
        lines.append(f"tests not passing ({len(r.test_failures)}):")
        lines.extend(f"  {t} ({s})" for t, s in r.test_failures)
    outside = len(r.by_outcome(NOT_SELECTED))
    counts = r.counts()
    names = dict(_SECTIONS, **({BUILT: "to build"} if r.dry_run else {}))
    summary = ", ".join(f"{counts[o]} {names[o]}" for o, _t in _SECTIONS if counts.get(o, 0))
    lines.append(f"{summary or 'nothing to do'}" + (f"; {outside} not selected" if outside else ""))
    if not r.dry_run:
        lines.append(f"exit code {r.exit_code}")
    return "\n".join(lines)
