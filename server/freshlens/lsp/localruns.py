"""Local dbt runs: ingest them when the user opts in, and say when the state is behind or missing.

**Ingest** (setting ``ingestLocalRuns``, off by default: a development run is not production). When
the client reports that a project's ``<target-path>/run_results.json`` (or ``sources.json`` /
``freshness.json``) changed, and the files stop changing for :data:`SETTLE_S`, the run folder is
ingested into the project's state store, as ``freshlens state ingest target/`` would (idempotent by
invocation id: the same run twice is one run), and the lenses are re-planned.

**Status** (:func:`state_status`): for each project, where the state came from and how old its newest
run is; *missing* when there is no state; *stale* when a dbt build/run/seed/snapshot finished in the
project's target folder after the newest run the state holds — for a project whose state is its own
local store (or that ingests local runs), a run the lenses do not know about yet.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from datetime import UTC, datetime
from typing import Any

from lsprotocol import types
from pygls.uris import to_fs_path

from freshlens.lsp.server import FreshlensServer, replan

log = logging.getLogger("freshlens.lsp")

SAME_RUN_S = 30  # run_results.json is written just after the generated_at it records
SETTLE_S = 1.0  # dbt writes manifest.json, then run_results.json: wait until they are both there
RUN_FILES = ("run_results.json", "sources.json", "freshness.json")
BUILD_COMMANDS = frozenset({"build", "run", "seed", "snapshot"})
_WHICH = re.compile(rb'"which"\s*:\s*"(\w+)"')

_pending: dict[str, asyncio.Task[None]] = {}  # target dir -> its ingest waiting for the files to settle
_which_cache: dict[str, tuple[int, int, str | None]] = {}  # run_results.json -> (mtime, size, command)


def _target_dir(proj: Any) -> str:
    env = os.environ.get("DBT_TARGET_PATH", "")
    tp = env or (proj.index.root.project.target_path if proj.index is not None else "target")
    return tp if os.path.isabs(tp) else os.path.normpath(os.path.join(proj.dir, tp))


def _state_path(ls: FreshlensServer, project_dir: str) -> tuple[str, bool]:
    """The project's state store and whether it is the project's own default local store."""
    from freshlens.state import default_state_path, resolve_state

    opt = str(ls.settings.get("state") or "")
    return resolve_state(project_dir, opt, str(default_state_path(project_dir))), not opt


def on_watched(ls: FreshlensServer, paths: list[str]) -> None:
    """Watched-file events: a run finishing in a project's target folder, when the user opted in."""
    if ls.ws is None or ls.settings.get("ingestLocalRuns") is not True:
        return
    for proj in ls.ws.projects.values():
        target = _target_dir(proj)
        if not any(os.path.dirname(p) == target and os.path.basename(p) in RUN_FILES for p in paths):
            continue
        task = _pending.pop(target, None)
        if task is not None:
            task.cancel()  # still being written: wait again
        _pending[target] = asyncio.ensure_future(_ingest_later(ls, proj.dir, target))


async def _ingest_later(ls: FreshlensServer, project_dir: str, target: str) -> None:
    await asyncio.sleep(SETTLE_S)
    _pending.pop(target, None)
    path, _ = _state_path(ls, project_dir)
    if os.path.isdir(path):
        return  # the state is an artifacts folder: read-only, nothing to ingest into
    loop = asyncio.get_running_loop()
    try:
        summary = await loop.run_in_executor(None, _ingest, path, target)
    except Exception as exc:  # a half-written or foreign file: say so, keep serving
        log.warning("freshlens: could not ingest the local run in %s: %s", target, exc)
        ls.window_log_message(
            types.LogMessageParams(types.MessageType.Warning, f"freshlens: local run not ingested: {exc}")
        )
        return
    if summary:
        log.info("freshlens: ingested the local run in %s: %s", target, summary)
        ls.window_log_message(
            types.LogMessageParams(types.MessageType.Info, f"freshlens: local run ingested: {summary}")
        )
    replan(ls)


def _ingest(state_path: str, target: str) -> str:
    from freshlens.state import open_store

    with open_store(state_path) as store:  # the project's SQLite file or the team's PostgreSQL
        report = store.ingest(target, origin=f"local run in {target}")
    return "" if not report.changed else report.summary()


# -- status ------------------------------------------------------------------------------------------


def _local_build(target: str) -> datetime | None:
    """When the last dbt build/run/seed/snapshot in ``target`` finished (its run_results.json)."""
    path = os.path.join(target, "run_results.json")
    try:
        st = os.stat(path)
    except OSError:
        return None
    got = _which_cache.get(path)
    if got is None or got[:2] != (st.st_mtime_ns, st.st_size):
        which = None
        try:
            with open(path, "rb") as fh:  # `args` is written last: read the tail only
                fh.seek(max(0, st.st_size - 65536))
                m = _WHICH.findall(fh.read())
                which = m[-1].decode() if m else None
        except OSError:
            pass
        got = (st.st_mtime_ns, st.st_size, which)
        _which_cache[path] = got
    if got[2] not in BUILD_COMMANDS:
        return None
    return datetime.fromtimestamp(st.st_mtime_ns / 1e9, UTC)


def state_status(ls: FreshlensServer, plans: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The state part of ``freshlens/status``: the oldest newest-run over the projects; *missing* when
    no project has state (a project without, beside others with, is named in the message); *stale*
    when a project's state is behind its last local run (see the module docs)."""
    assert ls.ws is not None
    out: dict[str, Any] = {"missing": False, "stale": False, "age_s": None, "source": None, "message": ""}
    without: list[str] = []
    behind = ""
    for key, res in plans.items():
        proj = ls.ws.projects.get(key)
        if proj is None:
            continue
        name = proj.index.name if proj.index is not None else os.path.basename(proj.dir)
        if res.state_run_at is None:
            without.append(name)
            continue
        age = max(0, int((now - res.state_run_at).total_seconds()))
        if out["age_s"] is None or age > out["age_s"]:
            out["age_s"], out["source"] = age, res.state_run_source
        _, local = _state_path(ls, proj.dir)
        if not (local or ls.settings.get("ingestLocalRuns") is True):
            continue  # production state: a development run is not a newer production run
        seen = _local_build(_target_dir(proj))
        late = seen is not None and (seen - res.state_run_at).total_seconds() > SAME_RUN_S
        if seen is not None and late and not behind:
            behind = (
                f"{name}: the state is behind the dbt run that finished in target/ at "
                f"{seen.strftime('%H:%M UTC')}: ingest it (freshlens state ingest target/) or turn on "
                "freshlens.ingestLocalRuns"
            )
    notes = []
    if without:
        out["missing"] = len(without) == len(plans)
        notes.append(
            f"no state yet for {', '.join(without)}, so lenses cannot say what was built when there; ingest a "
            "run (freshlens state ingest target/), pull production state (freshlens state pull), or run "
            "freshlens run"
        )
    if behind:
        out["stale"] = True
        notes.insert(0, behind)
    out["message"] = "; ".join(notes)
    return out


def watched_paths(changes: list[Any]) -> list[str]:
    return [p for ev in changes if (p := to_fs_path(ev.uri))]
