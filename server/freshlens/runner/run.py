"""``freshlens run``: refresh source freshness, plan, build what the plan says with the user's dbt, and
feed the run back into the state store.

Steps (each visible in the report):

1. ``dbt source freshness -o <project>/.freshlens/current/sources.json`` — the file the planner reads
   (skipped with ``--no-refresh``, and when the project declares no sources);
2. the same plan as ``freshlens plan`` (``planner.gather.run_plan``);
3. ``dbt build --select <the models, seeds and snapshots to build>`` with their tests (see
   ``selection`` for how the selection is passed); Unknown decisions are built, reused and no-op
   nodes are not run, and when nothing is to be built dbt is not started at all;
4. the run's ``manifest.json`` + ``run_results.json`` and the refreshed ``sources.json`` are copied to
   ``<project>/.freshlens/runs/<run id>/`` and ingested (only ``success`` results count as builds, so a
   failed or interrupted run is picked up where it stopped by the next one); the reused models are
   recorded with their reasons, as the platform reports them.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from freshlens.index import ProjectIndex
from freshlens.planner.core import BUILD, NOOP, REUSE, UNKNOWN, Decision
from freshlens.planner.gather import PlanOptions, PlanResult, resolve_path, run_plan
from freshlens.runner.dbt import Dbt, dbt_env, resolve_dbt, run_dbt, shared_args, target_dir
from freshlens.runner.refresh import CURRENT_DIR, RefreshError, measure
from freshlens.runner.selection import SelectionError, chunks, dbt_ls, node_selectors
from freshlens.state import (
    StateError,
    default_state_path,
    is_postgres_url,
    open_store,
    read_run_results,
    redact,
)

CURRENT_SOURCES = os.path.join(CURRENT_DIR, "sources.json")
RUNS_DIR = os.path.join(".freshlens", "runs")

# What happened to a node in this run.
BUILT, FAILED, SKIPPED, NOT_RUN, REUSED, NO_OP, NOT_SELECTED = (
    "built",
    "failed",
    "skipped",
    "not run",
    "reused",
    "no-op",
    "not selected",
)


class RunError(Exception):
    """freshlens run cannot go on; the message says why and what to do."""


@dataclass(slots=True)
class RunOptions:
    path: str = "."
    regime: str = "auto"
    state: str = ""
    select: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    dry_run: bool = False
    refresh: bool = True
    dbt: str = ""
    dbt_args: list[str] = field(default_factory=list)
    echo_dbt: bool = True  # dbt's own output on stdout (text format) or stderr (json)


@dataclass(slots=True)
class NodeOutcome:
    unique_id: str
    name: str
    resource_type: str
    planned: str  # the plan's action
    outcome: str  # BUILT, FAILED, …
    reason: str  # the plan's reason (dbt's reason string where dbt has one)
    rule: str
    short: str
    message: str = ""  # dbt's message for a failure; why an Unknown was built


@dataclass(slots=True)
class RunReport:
    run_id: str
    project: str
    regime: str
    started_at: datetime
    dbt: Dbt | None = None
    dry_run: bool = False
    refreshed: bool = False
    commands: list[list[str]] = field(default_factory=list)  # dbt build invocations (run or planned)
    exit_code: int = 0
    nodes: list[NodeOutcome] = field(default_factory=list)
    test_failures: list[tuple[str, str]] = field(default_factory=list)  # (test id, status)
    problems: list[str] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)  # run folders ingested

    def by_outcome(self, outcome: str) -> list[NodeOutcome]:
        return [n for n in self.nodes if n.outcome == outcome]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for n in self.nodes:
            out[n.outcome] = out.get(n.outcome, 0) + 1
        return out


Log = Callable[[str], None]


def _load_project(path: str) -> tuple[ProjectIndex, dict[str, str]]:
    from freshlens.targets import TargetError, single_project
    from freshlens.workspace import Workspace

    try:
        home = single_project(path)
    except TargetError as exc:
        raise RunError(str(exc)) from None
    ws = Workspace([home])
    ws.load()
    proj = ws.projects.get(os.path.join(home, "dbt_project.yml"))
    if proj is None or proj.index is None:
        raise RunError(f"the dbt project in {home} could not be read: run `freshlens check {home}`")
    return proj.index, {p: v.text for p, v in ws.cache.items()}


def _state_path(project_dir: str, state: str) -> str:
    if is_postgres_url(state):
        return state
    path = resolve_path(project_dir, state) if state else str(default_state_path(project_dir))
    if os.path.isdir(path):
        raise RunError(
            f"--state {state}: freshlens run records every run, so it needs a state store file (.db), "
            "not an artifacts folder; ingest that folder into a store first: freshlens state ingest DIR --state FILE"
        )
    return path


def _refresh(dbt: Dbt, idx: ProjectIndex, opts: RunOptions, log: Log) -> None:
    """``freshlens freshness refresh`` with the dbt this run resolved (freshlens.runner.refresh)."""
    echo_to = sys.stdout if opts.echo_dbt else sys.stderr  # stdout stays JSON in --format json
    log(f"refreshing source freshness with {dbt.path} source freshness")
    try:
        res = measure(
            idx.dir, dbt.path, dbt.version, False, opts.dbt_args, lambda line: print(line, file=echo_to)
        )
    except RefreshError as exc:
        raise RunError(
            f"{exc}\nOr run with --no-refresh to plan with the {CURRENT_SOURCES} already there"
        ) from None
    if res.exit_code != 0:
        log(
            f"dbt source freshness exited {res.exit_code} (a source is past its error_after or could not be "
            "measured); planning with what it measured"
        )


def _outcome(d: Decision, resource_type: str, outcome: str, message: str = "") -> NodeOutcome:
    if d.action == UNKNOWN and outcome in (BUILT, FAILED, SKIPPED, NOT_RUN) and not message:
        message = f"built because the plan could not decide: {d.short or d.reason}"
    return NodeOutcome(
        d.unique_id, d.name, resource_type, d.action, outcome, d.reason, d.rule, d.short, message
    )


def _copy_artifacts(target: str, run_dir: Path, sources: str | None) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in ("manifest.json", "run_results.json"):
        shutil.copy2(os.path.join(target, name), run_dir / name)
    if sources and os.path.exists(sources):
        shutil.copy2(sources, run_dir / "sources.json")


def execute(opts: RunOptions, log: Log) -> RunReport:
    """Do the run (or, with ``dry_run``, only plan it). Raises RunError / DbtError for what stops it."""
    idx, texts = _load_project(opts.path)
    env = dbt_env()
    state_path = _state_path(idx.dir, opts.state)
    dbt = resolve_dbt(opts.dbt, env)
    report = RunReport(uuid.uuid4().hex, idx.name, opts.regime, datetime.now(UTC), dbt, opts.dry_run)

    has_sources = any(s.package == idx.name for s in idx.sources.values())
    if opts.refresh and not opts.dry_run and has_sources:
        _refresh(dbt, idx, opts, log)
        report.refreshed = True

    if not opts.dry_run:
        # Before dbt builds anything: the store opens (reachable, schema current), or the run stops
        # here. The first run creates an empty store, so every model is built.
        try:
            open_store(state_path).close()
        except StateError as exc:
            raise RunError(str(exc)) from None
    res: PlanResult = run_plan(idx, PlanOptions(state=state_path, regime=opts.regime), texts, kept=True)
    report.regime = res.regime
    for prob in res.problems:
        if prob.startswith("state not found"):
            prob = f"no state store yet at {redact(state_path)}: the first run builds every model"
        report.problems.append(prob)

    selected: set[str] | None = None
    if opts.select or opts.exclude:
        try:
            selected = dbt_ls(
                dbt.command(), idx.dir, env, opts.select, opts.exclude, shared_args(opts.dbt_args)
            )
        except SelectionError as exc:
            raise RunError(str(exc)) from None

    order = list(res.decisions)  # parents before children: plan() decides in DAG order
    rtype = {uid: idx.nodes[uid].resource_type for uid in order}
    to_build: list[str] = []
    outcomes: dict[str, NodeOutcome] = {}
    for uid in order:
        d = res.decisions[uid]
        if selected is not None and uid not in selected:
            outcomes[uid] = _outcome(d, rtype[uid], NOT_SELECTED)
        elif d.action in (BUILD, UNKNOWN):
            to_build.append(uid)
        elif d.action == REUSE:
            outcomes[uid] = _outcome(d, rtype[uid], REUSED)
        else:
            outcomes[uid] = _outcome(d, rtype[uid], NO_OP if d.action == NOOP else d.action)

    parts = chunks(node_selectors(idx, to_build))
    build_cmds = [dbt.command("build", "--select", *part, *opts.dbt_args) for part in parts]
    chunk_uids: list[list[str]] = []
    pos = 0
    for part in parts:
        chunk_uids.append(to_build[pos : pos + len(part)])
        pos += len(part)
    report.commands = build_cmds
    status: dict[str, tuple[str, str]] = {}  # uid -> (status, message) from run_results
    interrupted = False
    if not opts.dry_run:
        target = target_dir(idx.dir, opts.dbt_args, env)
        rr_path = os.path.join(target, "run_results.json")
        runs_root = (
            Path(idx.dir) / RUNS_DIR / f"{report.started_at.strftime('%Y%m%dT%H%M%SZ')}-{report.run_id[:8]}"
        )
        try:
            for i, cmd in enumerate(build_cmds):
                before = os.stat(rr_path).st_mtime_ns if os.path.exists(rr_path) else None
                log(f"building {len(cmd) - 3 - len(opts.dbt_args)} node(s): {shlex.join(cmd[:6])} …")
                try:
                    rc = run_dbt(cmd, idx.dir, env, opts.echo_dbt)
                except KeyboardInterrupt:
                    interrupted, rc = True, 130
                after = os.stat(rr_path).st_mtime_ns if os.path.exists(rr_path) else None
                if after is not None and after != before:
                    run_dir = runs_root if len(build_cmds) == 1 else runs_root / str(i + 1)
                    sources = os.path.join(idx.dir, CURRENT_SOURCES)
                    _copy_artifacts(target, run_dir, sources)
                    # A connection per write, not one held open while dbt builds for hours.
                    with open_store(state_path) as store:
                        rep = store.ingest(run_dir)
                    report.artifacts.append(str(run_dir))
                    report.problems.extend(rep.notes)
                    for r in read_run_results(run_dir / "run_results.json").results:
                        status[r.unique_id] = (r.status, r.message or "")
                else:
                    report.problems.append(
                        f"dbt build (exit {rc}) wrote no new {rr_path}; nothing of it was recorded"
                    )
                if rc != 0:
                    report.exit_code = rc
                    break
                missing = [u for u in chunk_uids[i] if u not in status]
                if missing:
                    report.problems.append(
                        f"dbt build succeeded but did not report {len(missing)} node(s) freshlens selected "
                        f"({', '.join(sorted(missing)[:5])}): the selector and dbt's view of the project "
                        "differ; please report it with the output of `dbt ls` for them"
                    )
            if interrupted:
                unreported = "interrupted before dbt finished it"
            elif report.exit_code:
                unreported = f"dbt stopped before it (exit {report.exit_code})"
            else:
                unreported = "dbt did not report it: its selector did not match (see the warning)"
            _finish(report, res, order, rtype, to_build, outcomes, status, unreported)
            counts = report.counts()
            with open_store(state_path) as store:
                store.record_runner_run(
                    report.run_id,
                    report.started_at,
                    report.regime,
                    shlex.join(build_cmds[0]) if build_cmds else None,
                    report.exit_code,
                    (counts.get(BUILT, 0), counts.get(REUSED, 0), counts.get(FAILED, 0)),
                    {o.unique_id: (o.reason, o.rule) for o in report.by_outcome(REUSED)},
                )
        except StateError as exc:
            raise RunError(str(exc)) from None
        if interrupted:
            report.problems.append(
                "interrupted: what dbt reported as success was recorded; the next run picks up from there"
            )
    else:
        _finish(report, res, order, rtype, to_build, outcomes, status, "", planned=True)
    return report


def _finish(
    report: RunReport,
    res: PlanResult,
    order: list[str],
    rtype: dict[str, str],
    to_build: list[str],
    outcomes: dict[str, NodeOutcome],
    status: dict[str, tuple[str, str]],
    unreported: str,
    planned: bool = False,
) -> None:
    building = set(to_build)
    for uid in order:
        d = res.decisions[uid]
        if uid not in building:
            report.nodes.append(outcomes[uid])
            continue
        if planned:
            report.nodes.append(_outcome(d, rtype[uid], BUILT))
            continue
        st, msg = status.get(uid, ("", ""))
        if st == "success":
            report.nodes.append(_outcome(d, rtype[uid], BUILT))
        elif st in ("error", "fail", "runtime error"):
            report.nodes.append(_outcome(d, rtype[uid], FAILED, msg))
        elif st == "skipped":
            report.nodes.append(
                _outcome(d, rtype[uid], SKIPPED, msg or "skipped by dbt after an upstream failure")
            )
        else:
            why = f"dbt reported {st}" if st else unreported
            report.nodes.append(_outcome(d, rtype[uid], NOT_RUN, why))
    for uid, (st, _msg) in sorted(status.items()):
        if uid.startswith(("test.", "unit_test.")) and st in ("fail", "error", "warn"):
            report.test_failures.append((uid, st))
