"""``freshlens run``: the CLI around :func:`freshlens.runner.run.execute`."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence

from freshlens.planner.core import iso
from freshlens.runner.dbt import DbtError
from freshlens.runner.run import (
    BUILT,
    FAILED,
    NO_OP,
    NOT_RUN,
    NOT_SELECTED,
    REUSED,
    SKIPPED,
    RunError,
    RunOptions,
    RunReport,
    execute,
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "run",
        help="build with your dbt exactly what the plan says to build, reuse the rest, record the run",
        description="Refresh source freshness with `dbt source freshness`, plan, run `dbt build` on the "
        "models, seeds and snapshots to build (with their tests), and ingest the run into the state store. "
        "Arguments after `--` go to `dbt build` (connection options such as --target also to the "
        "freshness and ls calls). Exits with dbt's exit code.",
    )
    p.add_argument("path", nargs="?", default=".", help="project folder (default: .)")
    p.add_argument("--regime", choices=("auto", "sao", "dbt-state"), default="auto")
    p.add_argument(
        "--state",
        default="",
        help="state store: a .db file or a postgresql:// URL (default: <project>/.freshlens/state.db)",
    )
    p.add_argument("--select", "-s", nargs="+", default=[], help="narrow the candidates, as dbt's --select")
    p.add_argument("--exclude", nargs="+", default=[], help="leave nodes out, as dbt's --exclude")
    p.add_argument("--dry-run", action="store_true", help="print the plan and the dbt command; run nothing")
    p.add_argument(
        "--no-refresh", action="store_true", help="plan with .freshlens/current/sources.json as it is"
    )
    p.add_argument("--dbt", default="", help="dbt executable (default: active virtualenv, then PATH)")
    p.add_argument("--format", choices=("text", "json"), default="text")


def split_dbt_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``run … -- DBT_ARGS``: (freshlens arguments, dbt arguments). For ``run`` and ``freshness refresh``."""
    args = list(argv)
    if (args[:1] == ["run"] or args[:2] == ["freshness", "refresh"]) and "--" in args:
        i = args.index("--")
        return args[:i], args[i + 1 :]
    return args, []


def run_cmd(args: argparse.Namespace, dbt_args: list[str]) -> int:
    opts = RunOptions(
        path=args.path,
        regime=args.regime,
        state=args.state,
        select=args.select,
        exclude=args.exclude,
        dry_run=args.dry_run,
        refresh=not args.no_refresh,
        dbt=args.dbt,
        dbt_args=dbt_args,
        echo_dbt=args.format == "text",
    )

    def log(msg: str) -> None:
        print(f"freshlens: {msg}", file=sys.stderr, flush=True)

    try:
        report = execute(opts, log)
    except (RunError, DbtError) as exc:
        print(f"freshlens: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("freshlens: interrupted", file=sys.stderr)
        return 130
    for prob in report.problems:
        print(f"freshlens: warning: {prob}", file=sys.stderr)
    if args.format == "json":
        print(json.dumps(report_json(report), indent=2))
    else:
        print(report_text(report))
    return report.exit_code


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
