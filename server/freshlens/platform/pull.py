"""Pull a dbt platform job's (or environment's) finished runs into the state store, oldest first.

Every run becomes one origin in the store (``dbt platform job 123, run 456``); each of its dbt steps is
ingested from its own download folder, in step order, so a ``dbt source freshness`` step and the build
after it count as one run. The last run pulled is remembered per project and state store in
``<project>/.freshlens/platform-pulls.json``, and only advanced once a run is fully ingested: an
interrupted pull leaves exactly the runs that finished, and the next pull carries on after them.
Ingest is idempotent (keyed by invocation id), so pulling a run twice changes nothing.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from freshlens.platform.client import PlatformClient
from freshlens.state import StateStore

ARTIFACTS = ("manifest.json", "run_results.json", "sources.json", "catalog.json")
# Run statuses (Administrative API v2): 1 queued, 2 starting, 3 running, 10 success, 20 error, 30 cancelled.
FINISHED = {10: "success", 20: "error", 30: "cancelled"}
# Steps that write artifacts ("Invoke dbt with `dbt build`"); not clone, profile or `dbt deps`.
_DBT_STEP = re.compile(r"\bdbt\s+(build|run|seed|snapshot|test|source|freshness|docs|retry|clone|compile)\b")
PULLS_FILE = "platform-pulls.json"


@dataclass(slots=True)
class PullTarget:
    host: str
    account_id: str
    job_id: str | None = None
    environment_id: str | None = None

    def key(self, state_path: str) -> str:
        what = f"job {self.job_id}" if self.job_id else f"environment {self.environment_id}"
        return f"{self.host} account {self.account_id} {what} -> {state_path}"


@dataclass(slots=True)
class PulledRun:
    run_id: int
    job_id: int | None
    status: str
    finished_at: str | None
    origin: str
    artifacts: list[str] = field(default_factory=list)  # "step 4/sources.json", …
    summaries: list[str] = field(default_factory=list)
    builds: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class PullReport:
    target: PullTarget
    state: str
    since: int
    runs: list[PulledRun] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    last_run_id: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "host": self.target.host,
            "account_id": self.target.account_id,
            "job_id": self.target.job_id,
            "environment_id": self.target.environment_id,
            "state": self.state,
            "since": self.since,
            "last_run_id": self.last_run_id,
            "runs": [asdict(r) for r in self.runs],
            "skipped": self.skipped,
        }


def read_marks(project: str) -> dict[str, int]:
    p = Path(project) / ".freshlens" / PULLS_FILE
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, int)} if isinstance(data, dict) else {}


def _write_mark(project: str, key: str, run_id: int) -> None:
    d = Path(project) / ".freshlens"
    d.mkdir(parents=True, exist_ok=True)
    marks = read_marks(project)
    marks[key] = run_id
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".pulls-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(marks, fh, indent=2, sort_keys=True)
    os.replace(tmp, d / PULLS_FILE)  # atomic: never a half-written marker


def _steps(run: dict[str, Any]) -> list[int | None]:
    """The indexes of the run's dbt command steps (not ``dbt deps``); [None] (= last step) if not listed."""
    steps = run.get("run_steps")
    if not isinstance(steps, list) or not steps:
        return [None]
    out = [
        s["index"]
        for s in steps
        if isinstance(s, dict)
        and isinstance(s.get("index"), int)
        and _DBT_STEP.search(str(s.get("name", "")))
    ]
    return sorted(out) or [None]


def _wanted(run: dict[str, Any]) -> tuple[str, ...]:
    names = ["manifest.json", "run_results.json"]
    if run.get("has_sources_generated", True) is not False:
        names.append("sources.json")
    if run.get("has_docs_generated", True) is not False:
        names.append("catalog.json")
    return tuple(names)


def pull_runs(
    client: PlatformClient,
    target: PullTarget,
    store: StateStore,
    project: str,
    *,
    since: int | None = None,
    limit: int = 100,
    on_run: Callable[[int, int, int], None] | None = None,
) -> PullReport:
    """Ingest the target's finished runs newer than ``since`` (default: the last run pulled), oldest first.

    With no earlier pull and no ``since``, the newest ``limit`` finished runs are pulled. ``on_run(i, n,
    run_id)`` is called before each run (for progress). Raises :class:`PlatformError` on a request that
    fails for good; the runs ingested before it stay, and are remembered.
    """
    key = target.key(store.path)
    remembered = read_marks(project).get(key, 0)
    after = remembered if since is None else since
    report = PullReport(target, store.path, after, last_run_id=remembered)
    listed: list[dict[str, Any]] = []
    for run in client.runs(job_id=target.job_id, environment_id=target.environment_id, after_id=after):
        listed.append(run)
        if after == 0 and sum(1 for r in listed if r.get("status") in FINISHED) >= limit:
            break
    listed.sort(key=lambda r: int(r["id"]))
    todo: list[dict[str, Any]] = []
    for run in listed:
        if run.get("status") not in FINISHED and not run.get("is_complete"):
            # Later runs wait until this one finishes, so that the marker never skips it.
            report.skipped.append(
                f"run {run['id']} has not finished yet; it and later runs are pulled next time"
            )
            break
        todo.append(run)
    for i, run in enumerate(todo):
        if on_run is not None:
            on_run(i, len(todo), int(run["id"]))
        pulled = _pull_one(client, run, store)
        report.runs.append(pulled)
        report.last_run_id = max(report.last_run_id, pulled.run_id)
        _write_mark(project, key, report.last_run_id)
    return report


def _pull_one(client: PlatformClient, run: dict[str, Any], store: StateStore) -> PulledRun:
    run_id = int(run["id"])
    job = run.get("job_definition_id")
    origin = f"dbt platform job {job}, run {run_id}" if job is not None else f"dbt platform run {run_id}"
    pulled = PulledRun(
        run_id=run_id,
        job_id=job if isinstance(job, int) else None,
        status=FINISHED.get(run.get("status", 0), str(run.get("status_humanized", "finished")).lower()),
        finished_at=run.get("finished_at"),
        origin=origin,
    )
    if run.get("artifacts_saved") is False:
        pulled.notes.append(
            f"run {run_id} saved no artifacts (it may have failed before dbt ran); nothing ingested"
        )
        return pulled
    wanted = _wanted(run)
    with tempfile.TemporaryDirectory(prefix=f"freshlens-run-{run_id}-") as tmp:
        step_dirs: list[Path] = []
        for step in _steps(run):
            d = Path(tmp) / f"step-{step or 'last'}"
            got = False
            for name in wanted:
                data = client.artifact(run_id, name, step)
                if data is None:
                    continue
                d.mkdir(exist_ok=True)
                (d / name).write_bytes(data)
                pulled.artifacts.append(f"step {step}/{name}" if step is not None else name)
                got = True
            if got:
                step_dirs.append(d)
        if not step_dirs:
            pulled.notes.append(f"run {run_id} has no artifacts to download; nothing ingested")
            return pulled
        if not any(a.endswith("sources.json") for a in pulled.artifacts):
            pulled.notes.append(
                f"run {run_id} has no sources.json: add 'Run source freshness' to the job so freshlens learns "
                "what data each build read"
            )
        # Everything is downloaded before anything is ingested: a failed download ingests nothing.
        for d in step_dirs:
            files = {p.name for p in d.iterdir()}
            if "run_results.json" in files and "manifest.json" not in files:
                (d / "run_results.json").unlink()  # a step's results are useless without its manifest
                pulled.notes.append(f"{d.name}: run_results.json without manifest.json was left out")
                if len(files) == 1:
                    continue
            rep = store.ingest(d, origin=origin)
            pulled.summaries.append(rep.summary())
            pulled.builds += rep.built
            pulled.notes.extend(rep.notes)
    return pulled
