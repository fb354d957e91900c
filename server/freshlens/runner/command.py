"""``freshlens run``: its arguments, and the command around :func:`freshlens.runner.run.execute`."""

from __future__ import annotations

import argparse
import json
import sys


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


def run_cmd(args: argparse.Namespace, dbt_args: list[str]) -> int:
    # the runner (planner, state store, dbt) is loaded here, not with the parser every command builds
    from freshlens.runner.dbt import DbtError
    from freshlens.runner.run import RunError, RunOptions, execute
    from freshlens.runner.summary import report_json, report_text

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
