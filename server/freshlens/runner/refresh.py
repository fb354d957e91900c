"""Current source freshness through the user's own dbt: ``freshlens freshness refresh``.

Runs the project's ``dbt source freshness`` (dbt Core 1.8+) or ``dbt freshness`` (the dbt Fusion
engine, which also measures models with a freshness SLA) with the user's profiles and adapter, so it
works on every warehouse dbt supports without freshlens shipping a driver. What dbt writes
(``sources.json``; on Fusion also ``freshness.json``) is copied to ``<project>/.freshlens/current/``,
where the planner and the editor read current freshness.

dbt's output goes to ``<project>/.freshlens/logs/freshness-refresh.log`` (the last refresh, with the
command and the time), and to ``echo`` as it comes. A refresh that writes nothing new (no profile,
bad credentials, a broken project) raises :class:`RefreshError` and leaves the previous files as they
were; one that is cancelled stops dbt and leaves them too.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from freshlens.runner.dbt import (
    MIN_VERSION,
    DbtError,
    dbt_env,
    find_dbt,
    identify_dbt,
    parse_version,
    shared_args,
    target_dir,
)

CURRENT_DIR = os.path.join(".freshlens", "current")
LOG_FILE = os.path.join(".freshlens", "logs", "freshness-refresh.log")


class RefreshError(Exception):
    """The refresh did not produce new freshness; the message says why and what to do."""


@dataclass
class RefreshResult:
    command: list[str]
    engine: str  # "dbt-core" | "fusion"
    dbt_version: str
    exit_code: int
    seconds: float
    log: str  # the log file, relative to the project
    written: list[str] = field(default_factory=list)  # files updated in .freshlens/current/
    statuses: dict[str, int] = field(default_factory=dict)  # pass / warn / error / runtime error
    cancelled: bool = False

    def as_json(self) -> dict[str, object]:
        return {
            "command": self.command,
            "engine": self.engine,
            "dbt_version": self.dbt_version,
            "exit_code": self.exit_code,
            "seconds": round(self.seconds, 3),
            "log": self.log,
            "written": self.written,
            "statuses": self.statuses,
            "cancelled": self.cancelled,
        }

    def summary(self) -> str:
        if self.cancelled:
            return "source freshness refresh cancelled: the previous freshness is kept"
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items())) or (
            f"no source measured (see {self.log})"
        )
        note = (
            f" (dbt exited {self.exit_code}: a source is past its error_after or could not be measured)"
            if self.exit_code
            else ""
        )
        return f"source freshness refreshed in {self.seconds:.1f} s: {counts}{note}; wrote {', '.join(self.written)}"


def _statuses(path: str) -> dict[str, int]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        out: dict[str, int] = {}
        for r in data.get("results") or []:
            s = str(r.get("status") or "unknown")
            out[s] = out.get(s, 0) + 1
        return out
    except (OSError, ValueError, AttributeError):
        return {}


def refresh(
    project_dir: str,
    dbt: str = "",
    dbt_args: list[str] | None = None,
    echo: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> RefreshResult:
    """Measure current source freshness with the user's dbt (see the module docs)."""
    project_dir = os.path.abspath(project_dir)
    if not os.path.isfile(os.path.join(project_dir, "dbt_project.yml")):
        raise RefreshError(f"{project_dir}: no dbt_project.yml here; give the project folder")
    try:
        path = find_dbt(dbt)
        version, fusion = identify_dbt(path, dbt_env())
    except DbtError as exc:
        raise RefreshError(str(exc)) from None
    if not fusion and parse_version(version)[:2] < MIN_VERSION:
        raise RefreshError(
            f"{path} is dbt-core {version}; freshlens reads the sources.json of dbt-core "
            f"{'.'.join(map(str, MIN_VERSION))} or later. Upgrade dbt-core, or point --dbt at a newer one."
        )
    return measure(project_dir, path, version, fusion, list(dbt_args or []), echo, cancel)


def measure(
    project_dir: str,
    path: str,
    version: str,
    fusion: bool,
    args: list[str],
    echo: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> RefreshResult:
    """Run the dbt at ``path`` (already identified: ``version``, ``fusion``) to measure freshness and
    keep what it writes (the module docs); ``freshlens run`` calls this with the dbt it resolved."""
    env = dbt_env()
    env.setdefault("DBT_USE_COLORS", "false")  # a log to read, not a terminal
    target = target_dir(project_dir, args, env)
    names = ("freshness.json", "sources.json") if fusion else ("sources.json",)
    verb = ["freshness"] if fusion else ["source", "freshness"]
    cmd = [path, *verb, *shared_args(args)]
    before = {n: _mtime(os.path.join(target, n)) for n in names}
    log_path = os.path.join(project_dir, LOG_FILE)
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    started = time.monotonic()
    cancelled = False
    with open(log_path, "w", encoding="utf-8") as log:
        log.write(f"# {datetime.now(UTC).isoformat(timespec='seconds')}  {shlex.join(cmd)}\n")
        log.flush()
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=project_dir,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                errors="replace",
            )
        except OSError as exc:
            raise RefreshError(f"{path}: cannot run it ({exc})") from None
        if cancel is not None:
            threading.Thread(target=_stop_on, args=(cancel, proc), daemon=True).start()
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            log.flush()
            if echo is not None:
                echo(line.rstrip("\n"))
        rc = proc.wait()
        cancelled = cancel is not None and cancel.is_set()
        if cancelled:
            log.write("# cancelled: the previous freshness is kept\n")
    seconds = time.monotonic() - started
    rel_log = os.path.relpath(log_path, project_dir)
    result = RefreshResult(cmd, "fusion" if fusion else "dbt-core", version, rc, seconds, rel_log)
    if cancelled:
        result.cancelled = True
        return result
    fresh = [n for n in names if _mtime(os.path.join(target, n)) not in (None, before[n])]
    if "sources.json" not in fresh and not (fusion and "freshness.json" in fresh):
        raise RefreshError(
            f"`{shlex.join([os.path.basename(cmd[0]), *cmd[1:]])}` (exit {rc}) wrote no new freshness "
            f"in {os.path.relpath(target, project_dir)}/; the previous freshness is kept.{_excerpt(log_path)}\n"
            f"dbt's whole output: {rel_log}"
        )
    current = os.path.join(project_dir, CURRENT_DIR)
    os.makedirs(current, exist_ok=True)
    for n in fresh:
        tmp = os.path.join(current, f".{n}.tmp")
        shutil.copy2(os.path.join(target, n), tmp)
        os.replace(tmp, os.path.join(current, n))  # readers never see half a file
        result.written.append(os.path.join(CURRENT_DIR, n))
    for n in fresh:
        for s, k in _statuses(os.path.join(current, n)).items():
            result.statuses[s] = result.statuses.get(s, 0) + k
        if fusion:
            break  # freshness.json holds sources.json's sources and the models: count it alone
    return result


def _excerpt(log_path: str, lines: int = 6) -> str:
    """dbt's error, from the end of its output: what went wrong, in dbt's words."""
    try:
        with open(log_path, encoding="utf-8", errors="replace") as fh:
            text = [ln.rstrip() for ln in fh if ln.strip() and not ln.startswith("# ")]
    except OSError:
        return ""
    at = max((i for i, ln in enumerate(text) if "error" in ln.lower()), default=-1)
    tail = text[at:][:lines] if at >= 0 else text[-lines:]
    return ("\ndbt said:\n" + "\n".join("  " + ln.strip() for ln in tail)) if tail else ""


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _stop_on(cancel: threading.Event, proc: subprocess.Popen[str]) -> None:
    while proc.poll() is None:
        if cancel.wait(0.1):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            return
