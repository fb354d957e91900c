"""The ``freshlens`` command: check, serve (and the state/plan commands where available)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from freshlens import __version__
from freshlens.model import Finding, Severity
from freshlens.rules.codes import docs_url
from freshlens.rules.v2_resolve import ENGINES
from freshlens.targets import (
    TargetError,
    check_targets,
    display_path,
    find_decision,
    project_dir_of,
    reported,
    single_project,
)
from freshlens.workspace import Workspace, keep_until_exit

if TYPE_CHECKING:
    from freshlens.index import ProjectIndex
    from freshlens.planner.gather import PlanResult


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # usage errors exit 2 with a clear message
        self.print_usage(sys.stderr)
        print(f"freshlens: error: {message}", file=sys.stderr)
        raise SystemExit(2)


STATE_HELP = "state store: a .db file or a postgresql:// URL (default: <project>/.freshlens/state.db)"


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="freshlens", description="Validate dbt freshness/state configs and predict build or reuse."
    )
    p.add_argument("--version", action="version", version=f"freshlens {__version__}")
    sub = p.add_subparsers(dest="cmd", parser_class=_Parser)
    c = sub.add_parser("check", help="report config problems (exit 1 on errors)")
    c.add_argument("paths", nargs="*", default=["."], help="project folders or files (default: .)")
    c.add_argument("--format", choices=("text", "json"), default="text")
    c.add_argument("--vars", default="", help="var overrides as a YAML mapping, as dbt's --vars")
    c.add_argument(
        "--engine",
        choices=ENGINES,
        default="auto",
        help="the dbt engine to judge model freshness SLAs for (default auto: from require-dbt-version)",
    )
    c.add_argument(
        "--no-cache",
        action="store_true",
        help="check every file again, ignoring and not writing <project>/.freshlens/cache/",
    )
    ls = sub.add_parser("ls", help="list nodes and sources as dbt's manifest.json would")
    ls.add_argument("paths", nargs="*", default=["."], help="project folders or files (default: .)")
    ls.add_argument("--format", choices=("text", "json"), default="text")
    ls.add_argument("--vars", default="", help="var overrides as a YAML mapping, as dbt's --vars")
    for sp in (c, ls):
        sp.add_argument(
            "--env-vars",
            action="store_true",
            help="let env_var() read this environment while rendering Jinja (default: only its defaults)",
        )
    srv = sub.add_parser("serve", help="run the language server over stdio")
    srv.add_argument(
        "--stdio", action="store_true", help="accepted for clients that pass it (stdio is the default)"
    )
    for name, hlp in (
        ("plan", "predict build/reuse for every model"),
        ("explain", "explain one model's prediction"),
    ):
        q = sub.add_parser(name, help=hlp)
        if name == "explain":
            q.add_argument("model", help="model name or unique id")
        q.add_argument("path", nargs="?", default=".", help="project folder (default: .)")
        q.add_argument(
            "--state",
            default="",
            help="state store (.db file or postgresql:// URL) or a run's artifacts directory",
        )
        q.add_argument(
            "--sources",
            default="",
            help="a current sources.json, a freshness.json from dbt v2, or dbt-platform (the Discovery API: "
            "DBT_CLOUD_API_TOKEN and DBT_CLOUD_ENVIRONMENT_ID)",
        )
        q.add_argument("--live", action="store_true", help="measure source freshness in DuckDB (read-only)")
        q.add_argument("--at", default="", help="what-if time, ISO 8601 (default: now)")
        q.add_argument("--regime", choices=("auto", "sao", "dbt-state"), default="auto")
        if name == "plan":
            q.add_argument(
                "--format",
                choices=("text", "json", "html", "markdown"),
                default="text",
                help="html: one self-contained page (table + lineage graph); markdown: for a pull-request comment",
            )
            q.add_argument(
                "--output", "-o", default="", help="write the report to this file (default: stdout)"
            )
        else:
            q.add_argument("--format", choices=("text", "json"), default="text")
    st = sub.add_parser("state", help="manage the state store")
    ssub = st.add_subparsers(dest="state_cmd", parser_class=_Parser)
    ing = ssub.add_parser("ingest", help="ingest one run's artifacts directory")
    ing.add_argument(
        "dirs",
        nargs="+",
        help="directories with manifest.json, run_results.json [, sources.json, catalog.json], or URLs "
        "(s3://, gs://, az://, file://) of one run's folder or of a prefix with one folder per run",
    )
    ing.add_argument("--state", default="", help=STATE_HELP)
    ing.add_argument("--project", default=".", help="project folder (default: .)")
    pull = ssub.add_parser("pull", help="pull runs from where they live (dbt-platform)")
    from freshlens.platform.command import register as register_platform_pull

    register_platform_pull(pull.add_subparsers(dest="pull_from", parser_class=_Parser, required=True))
    clr = ssub.add_parser("clear", help="forget all builds: the next predicted run rebuilds everything")
    ver = ssub.add_parser(
        "verify", help="check the store's integrity and that every run it holds is kept (exit 1 if not)"
    )
    reb = ssub.add_parser("rebuild", help="rebuild the store from its kept runs (the old file is kept aside)")
    mig = ssub.add_parser(
        "migrate", help="move the store's schema forward to this freshlens' version (PostgreSQL asks for it)"
    )
    for q in (clr, ver, reb, mig):
        q.add_argument("--state", default="", help=STATE_HELP)
        q.add_argument("--project", default=".", help="project folder (default: .)")
    fr = sub.add_parser("freshness", help="current source freshness")
    frsub = fr.add_subparsers(dest="freshness_cmd", parser_class=_Parser, required=True)
    ref = frsub.add_parser(
        "refresh",
        help="measure current source freshness with your dbt, for the plan and the editor",
        description="Run the project's `dbt source freshness` (`dbt freshness` on the dbt Fusion engine) "
        "with your profiles and adapter, and keep what it writes in <project>/.freshlens/current/, where "
        "plans and the editor read current freshness. dbt's output goes to "
        "<project>/.freshlens/logs/freshness-refresh.log. Arguments after `--` go to dbt "
        "(connection options: --target, --profiles-dir, --profile, --vars, --target-path).",
    )
    ref.add_argument("path", nargs="?", default=".", help="project folder (default: .)")
    ref.add_argument("--target", "-t", default="", help="dbt target (default: the profile's)")
    ref.add_argument("--dbt", default="", help="dbt executable (default: active virtualenv, then PATH)")
    ref.add_argument("--format", choices=("text", "json"), default="text")
    fpull = frsub.add_parser("pull", help="current source freshness from where production runs")
    fpsub = fpull.add_subparsers(dest="pull_from", parser_class=_Parser, required=True)
    dp = fpsub.add_parser(
        "dbt-platform",
        help="the environment's source freshness from the dbt platform's Discovery API",
        description="Reads each source's last measured freshness (maxLoadedAt) from the environment's applied "
        "state and writes it to <project>/.freshlens/current/sources.json, where plans and the editor read "
        "current freshness. Token from DBT_CLOUD_API_TOKEN (never on the command line; a service token with "
        "Metadata Only or Read-only permission); environment from DBT_CLOUD_ENVIRONMENT_ID and host from "
        "DBT_CLOUD_HOST when not given.",
    )
    dp.add_argument("--environment-id", default=os.environ.get("DBT_CLOUD_ENVIRONMENT_ID", ""))
    dp.add_argument("--host", default=os.environ.get("DBT_CLOUD_HOST", ""), help="the account's access URL")
    dp.add_argument(
        "--metadata-url",
        default=os.environ.get("DBT_CLOUD_METADATA_URL", ""),
        help="the Discovery API endpoint (default: derived from --host)",
    )
    dp.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default 30)")
    dp.add_argument("--project", default=".", help="project folder (default: .)")
    dp.add_argument("--format", choices=("text", "json"), default="text")
    from freshlens.runner.command import register as register_run

    register_run(sub)
    return p


def _project_of(path: str) -> str:
    """The folder of the nearest dbt_project.yml above a file (pre-commit passes files)."""
    return project_dir_of(path) or os.path.dirname(os.path.abspath(path))


def check(
    paths: list[str],
    fmt: str,
    vars_text: str = "",
    env_vars: bool = False,
    engine: str = "auto",
    cache: bool = True,
) -> int:
    from freshlens.listing import parse_vars

    try:
        user_vars = parse_vars(vars_text)
    except ValueError as exc:
        print(f"freshlens: error: {exc}", file=sys.stderr)
        return 2
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        print(f"freshlens: error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        targets = check_targets(paths)
    except TargetError as exc:
        print(f"freshlens: error: {exc}", file=sys.stderr)
        return 2
    ws = keep_until_exit(
        Workspace(
            targets.folders, vars=user_vars, env=dict(os.environ) if env_vars else None, render_cache=cache
        )
    )
    ws.engine = engine
    if not (cache and ws.load_cached()):  # the last check's findings, when nothing changed since
        ws.load()
    if not ws.projects:
        print(f"freshlens: error: no dbt_project.yml found under {', '.join(paths)}", file=sys.stderr)
        return 2
    found: list[Finding] = [f for f in ws.all_findings() if reported(f.loc.path, targets.report)]
    if fmt == "json":
        out = {
            "version": 1,
            "diagnostics": [
                {
                    "file": display_path(f.loc.path),
                    "line": f.loc.span.line + 1,
                    "column": f.loc.span.col + 1,
                    "end_line": f.loc.span.end_line + 1,
                    "end_column": f.loc.span.end_col + 1,
                    "severity": f.severity.label,
                    "code": f.code,
                    "message": f.message,
                    "url": docs_url(f.code),
                }
                for f in found
            ],
        }
        print(json.dumps(out, indent=2))
    else:
        for f in found:
            sp = f.loc.span
            print(
                f"{display_path(f.loc.path)}:{sp.line + 1}:{sp.col + 1}: {f.code} {f.severity.label} {f.message}"
            )
        errors = sum(1 for f in found if f.severity == Severity.ERROR)
        skipped = len({f.loc.path for f in found if f.code == "FL011"})
        note = f"; {skipped} file(s) not analysed (FL011)" if skipped else ""
        print(
            f"{len(found)} finding(s), {errors} error(s) in {len(ws.projects)} project(s){note}",
            file=sys.stderr,
        )
    return 1 if any(f.severity == Severity.ERROR for f in found) else 0


def _project_index(path: str):  # type: ignore[no-untyped-def]
    try:
        home = single_project(path)
    except TargetError as exc:
        print(f"freshlens: error: {exc}", file=sys.stderr)
        return None, None
    ws = keep_until_exit(Workspace([home]))
    ws.load()
    proj = ws.projects.get(os.path.join(home, "dbt_project.yml"))
    if proj is None or proj.index is None:
        print(f"freshlens: error: the dbt project in {display_path(home)} could not be read", file=sys.stderr)
        return None, None
    return ws, proj.index


def _plan(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from freshlens.planner.gather import PlanOptions, parse_time, run_plan

    try:
        at = parse_time(args.at) if args.at else None
    except ValueError as exc:
        print(f"freshlens: error: {exc}", file=sys.stderr)
        return None, None, 2
    ws, idx = _project_index(args.path)
    if idx is None:
        return None, None, 2
    texts = {p: v.text for p, v in ws.cache.items()}
    res = run_plan(idx, PlanOptions(args.state, args.sources, args.live, at, args.regime), texts, kept=True)
    for prob in res.problems:
        print(f"freshlens: warning: {prob}", file=sys.stderr)
    return idx, res, 0


def plan_cmd(args: argparse.Namespace) -> int:
    idx, res, rc = _plan(args)
    if res is None:
        return int(rc)
    rows = sorted(res.decisions.values(), key=lambda d: (d.action, d.name))
    if args.format in ("html", "markdown"):
        return _write_report(args, idx, res)
    if args.output:
        print("freshlens: error: --output is for --format html or markdown", file=sys.stderr)
        return 2
    if args.format == "json":
        from freshlens.planner.gather import plan_json

        out = plan_json(idx, res)
        print(json.dumps(out, indent=2))
        return 0
    counts = res.counts()
    print(f"freshlens plan — {idx.name}, regime {res.regime}, at {res.at.strftime('%Y-%m-%d %H:%M')} UTC")
    print(f"state: {res.state_origin}; source freshness: {res.freshness_origin or 'none'}")
    print("  ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    print()
    width = max((len(d.name) for d in rows), default=10)
    for d in rows:
        print(f"{d.label:<8} {d.name:<{width}}  {d.short}  [{d.rule}]")
    return 0


def _write_report(args: argparse.Namespace, idx: ProjectIndex, res: PlanResult) -> int:
    from freshlens.report import build_report
    from freshlens.report.html import render_html
    from freshlens.report.markdown import render_markdown

    report = build_report([(idx, res)])
    text = render_html(report) if args.format == "html" else render_markdown(report)
    if not args.output:
        sys.stdout.write(text)
        return 0
    try:
        with open(args.output, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    except OSError as exc:
        print(f"freshlens: error: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"freshlens: {report['summary']} Report written to {args.output}", file=sys.stderr)
    return 0


def explain_cmd(args: argparse.Namespace) -> int:
    from freshlens.planner.core import explain_markdown

    idx, res, rc = _plan(args)
    if res is None:
        return int(rc)
    d, hint = find_decision(res.decisions, args.model)
    if d is None:
        print(f"freshlens: error: no model named {args.model!r} in {idx.name}{hint}", file=sys.stderr)
        return 2
    print(explain_markdown(d, res.at, res.regime, idx.dir, res.state_run_source, res.state_run_at))
    return 0


def state_cmd(args: argparse.Namespace) -> int:
    from freshlens.state import StateError, default_state_path, is_postgres_url, open_store

    if args.state_cmd == "pull":
        from freshlens.platform.command import pull_cmd

        return pull_cmd(args)
    path = args.state or str(default_state_path(os.path.abspath(args.project)))
    local = not is_postgres_url(path)
    if args.state_cmd in ("verify", "rebuild", "migrate") and local and not os.path.exists(path):
        print(f"freshlens: error: {path}: no state store here (give --state or --project)", file=sys.stderr)
        return 2
    rc = 0
    try:
        with open_store(path, migrate=args.state_cmd == "migrate") as store:
            if store.recovered:
                print(f"freshlens: warning: {store.recovered}", file=sys.stderr)
            if args.state_cmd == "ingest":
                for d in args.dirs:
                    if "://" in d:  # an artifact store: s3://, gs://, az://, file://
                        from freshlens.state.remote import ingest_url

                        for rep in ingest_url(store, d):
                            print(rep.summary())
                        continue
                    rep = store.ingest(d)
                    print(rep.summary())
            elif args.state_cmd == "clear":
                store.clear()
                print(f"state cleared: {store.path} — the next predicted run rebuilds every model")
            elif args.state_cmd == "verify":
                report = store.verify()
                print(report.text())
                # A store repaired on opening was damaged: worth a non-zero exit even though it is fine now.
                rc = 0 if report.ok and not store.recovered else 1
            elif args.state_cmd == "rebuild":
                if not store.recovered:  # opening already rebuilt a damaged store
                    print(store.rebuild())
            elif args.state_cmd == "migrate":
                print(store.schema_report())
            else:
                print(
                    "freshlens: error: use `freshlens state ingest|clear|verify|rebuild|migrate|pull`",
                    file=sys.stderr,
                )
                return 2
    except StateError as exc:
        print(f"freshlens: error: {exc}", file=sys.stderr)
        return 1
    return rc


# Commands that only read: a program run of one ends with os._exit once its output is flushed (main).
_QUICK_EXIT = frozenset({"check", "ls", "plan", "explain"})


def main(argv: Sequence[str] | None = None) -> int:
    """The ``freshlens`` command. Called with ``argv`` (tests, other Python code) it returns the exit
    code; as the program (``argv`` None), a read-only command ends the process at once when done,
    without freeing the project's index object by object (see :func:`keep_until_exit`)."""
    try:
        rc = _main(argv)
    except BrokenPipeError:  # `freshlens check | head`: the reader left; end quietly, as cat does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not fail again
        return 141  # 128 + SIGPIPE, what a shell reports for a command ended by a closed pipe
    if argv is None and sys.argv[1:2] and sys.argv[1] in _QUICK_EXIT:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BrokenPipeError:
            os._exit(141)
        os._exit(rc)
    return rc


def freshness_cmd(args: argparse.Namespace, dbt_args: list[str]) -> int:
    from freshlens.runner.refresh import RefreshError, refresh

    if args.freshness_cmd == "pull":
        return freshness_pull_cmd(args)

    if args.target:
        dbt_args = ["--target", args.target, *dbt_args]
    as_json = args.format == "json"
    try:
        res = refresh(
            args.path, args.dbt, dbt_args, echo=None if as_json else lambda line: print(line, file=sys.stderr)
        )
    except RefreshError as exc:
        if as_json:
            print(json.dumps({"error": str(exc)}, indent=2))
        print(f"freshlens: error: {exc}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(res.as_json(), indent=2))
    else:
        print(res.summary())
    return 0


def freshness_pull_cmd(args: argparse.Namespace) -> int:
    from freshlens.platform.discovery import NotConfigured, discovery_from_env, write_sources_json
    from freshlens.runner.refresh import CURRENT_DIR
    from freshlens.state import StateError

    project = os.path.abspath(args.project)
    if not os.path.isfile(os.path.join(project, "dbt_project.yml")):
        print(f"freshlens: error: {project}: no dbt_project.yml here; give --project", file=sys.stderr)
        return 2
    try:
        env_id, client = discovery_from_env(args.environment_id, args.host, args.metadata_url, args.timeout)
        with client:
            nodes = client.sources(env_id)
    except StateError as exc:
        print(f"freshlens: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, NotConfigured) else 1
    out = os.path.join(project, CURRENT_DIR, "sources.json")
    measured = write_sources_json(nodes, out, env_id)
    rel = os.path.relpath(out, project)
    if args.format == "json":
        print(
            json.dumps(
                {"environment_id": env_id, "sources": len(nodes), "measured": measured, "written": rel}
            )
        )
    else:
        print(
            f"dbt platform environment {env_id}: {len(nodes)} source(s), {measured} with a measured "
            f"freshness; wrote {rel}"
        )
    return 0


def split_dbt_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``run … -- DBT_ARGS``: (freshlens arguments, dbt arguments). For ``run`` and ``freshness refresh``."""
    args = list(argv)
    if (args[:1] == ["run"] or args[:2] == ["freshness", "refresh"]) and "--" in args:
        i = args.index("--")
        return args[:i], args[i + 1 :]
    return args, []


def _main(argv: Sequence[str] | None = None) -> int:
    argv, dbt_args = split_dbt_args(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    if args.cmd == "check":
        return check(args.paths, args.format, args.vars, args.env_vars, args.engine, not args.no_cache)
    if args.cmd == "ls":
        from freshlens.listing import ls_cmd

        return ls_cmd(args.paths, args.format, args.vars, args.env_vars)
    if args.cmd == "plan":
        return plan_cmd(args)
    if args.cmd == "explain":
        return explain_cmd(args)
    if args.cmd == "state":
        return state_cmd(args)
    if args.cmd == "freshness":
        return freshness_cmd(args, dbt_args)
    if args.cmd == "run":
        from freshlens.runner.command import run_cmd

        return run_cmd(args, dbt_args)
    if args.cmd == "serve":
        from freshlens.lsp.server import serve

        serve()
        return 0
    _parser().print_help()
    return 2
