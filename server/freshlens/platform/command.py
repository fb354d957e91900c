"""``freshlens state pull dbt-platform``: the CLI around :func:`freshlens.platform.pull.pull_runs`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import TYPE_CHECKING

from freshlens.platform import DEFAULT_HOST

if TYPE_CHECKING:
    from freshlens.platform.pull import PullReport

TOKEN_ENV = "DBT_CLOUD_API_TOKEN"


def register(pull_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = pull_sub.add_parser(
        "dbt-platform",
        help="ingest a dbt platform job's (or environment's) finished runs, oldest first",
        description=f"Token from {TOKEN_ENV} (never on the command line); account from DBT_CLOUD_ACCOUNT_ID "
        "and host from DBT_CLOUD_HOST when not given.",
    )
    p.add_argument("--account-id", default=os.environ.get("DBT_CLOUD_ACCOUNT_ID", ""))
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--job-id", default=None)
    which.add_argument("--environment-id", default=None)
    p.add_argument("--host", default=os.environ.get("DBT_CLOUD_HOST", DEFAULT_HOST), help="access URL")
    p.add_argument(
        "--since", type=int, default=None, help="pull runs after this run id (default: the last pulled)"
    )
    p.add_argument(
        "--limit", type=int, default=100, help="first pull: the newest N finished runs (default 100)"
    )
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default 30)")
    p.add_argument("--project", default=".", help="project folder (default: .)")
    p.add_argument(
        "--state",
        default="",
        help="state store: a .db file or a postgresql:// URL (default: <project>/.freshlens/state.db)",
    )
    p.add_argument("--format", choices=("text", "json"), default="text")


def pull_cmd(args: argparse.Namespace) -> int:
    # loaded here, not with the parser every command builds: the HTTP client and the state store
    from freshlens.platform.client import PlatformClient
    from freshlens.platform.pull import PullTarget, pull_runs
    from freshlens.state import StateError, default_state_path, open_store, redact

    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        print(
            f"freshlens: error: set {TOKEN_ENV} to a dbt platform service token (Job Viewer or above) or a "
            "personal access token; freshlens never takes it on the command line",
            file=sys.stderr,
        )
        return 2
    if not args.account_id:
        print("freshlens: error: give --account-id or set DBT_CLOUD_ACCOUNT_ID", file=sys.stderr)
        return 2
    logging.getLogger("httpx").setLevel(logging.WARNING)  # no per-request lines
    project = os.path.abspath(args.project)
    path = args.state or str(default_state_path(project))
    target = PullTarget(args.host, str(args.account_id), args.job_id, args.environment_id)
    progress = None
    if args.format == "text" and sys.stderr.isatty():
        from rich.progress import Progress

        progress = Progress(transient=True)
    report: PullReport | None = None
    try:
        with (
            open_store(path) as store,
            PlatformClient(args.host, target.account_id, token, timeout=args.timeout) as cl,
        ):
            if progress is None:
                report = pull_runs(cl, target, store, project, since=args.since, limit=args.limit)
            else:
                with progress:
                    task = progress.add_task("pulling runs", total=None)

                    def on_run(i: int, n: int, run_id: int) -> None:
                        progress.update(task, completed=i, total=n, description=f"run {run_id}")

                    report = pull_runs(
                        cl, target, store, project, since=args.since, limit=args.limit, on_run=on_run
                    )
    except StateError as exc:
        print(f"freshlens: error: {exc}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps(report.to_json(), indent=2))
        return 0
    for run in report.runs:
        print(f"{run.origin} ({run.status}, finished {run.finished_at}): {run.builds} build(s) recorded")
        for note in run.notes:
            print(f"  note: {note}")
    for s in report.skipped:
        print(f"  note: {s}")
    if not report.runs:
        print(f"no new finished runs after run {report.since}; the state store is up to date")
    print(f"state: {redact(path)}; last run pulled: {report.last_run_id or 'none'}")
    return 0
