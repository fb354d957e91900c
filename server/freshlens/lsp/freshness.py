"""Current source freshness from the editor: ``freshlens.refreshFreshness`` and its schedule.

The command runs the user's ``dbt source freshness`` (``dbt freshness`` on Fusion) for each project
(:mod:`freshlens.runner.refresh`), with work-done progress that shows dbt's last line and can be
cancelled (dbt is stopped; the previous freshness stays), then re-plans so lenses use what dbt
measured. It only ever runs because the user asked: the command, or the setting
``freshlens.freshness.refreshMinutes`` (0, the default, never). A failure is shown with an action
that opens dbt's output.

Settings: ``freshness.dbt`` (the dbt executable; default: the active virtualenv, then PATH),
``freshness.dbtArgs`` (connection options such as ``["--target", "prod"]``), ``freshness.refreshMinutes``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import uuid
from typing import Any

from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path

from freshlens.lsp.server import FreshlensServer, replan, server
from freshlens.runner.refresh import RefreshError, refresh

log = logging.getLogger("freshlens.lsp")

_running: dict[str, asyncio.Task[dict[str, Any]]] = {}  # project dir -> its refresh in progress
_asking: set[asyncio.Task[None]] = set()  # "Open log?" questions waiting for the user


def _options(ls: FreshlensServer) -> tuple[str, list[str], float]:
    fr = ls.settings.get("freshness")
    fr = fr if isinstance(fr, dict) else {}
    dbt = str(fr.get("dbt") or "")
    args = fr.get("dbtArgs")
    dbt_args = [str(a) for a in args] if isinstance(args, list) else []
    try:
        minutes = float(fr.get("refreshMinutes") or 0)
    except (TypeError, ValueError):
        minutes = 0.0
    return dbt, dbt_args, max(0.0, minutes)


def _projects(ls: FreshlensServer, args: tuple[Any, ...]) -> list[str]:
    """The project folders to refresh: the one holding the given file or folder (a URI or a path), or all."""
    assert ls.ws is not None
    dirs = sorted(p.dir for p in ls.ws.projects.values())
    want = args[0] if args and isinstance(args[0], str) else ""
    if want:
        path = to_fs_path(want) if "://" in want else want
        if path:
            path = os.path.abspath(path)
            hit = [d for d in dirs if path == d or path.startswith(d + os.sep)]
            return hit[-1:]  # the innermost project
    return dirs


async def _refresh_one(ls: FreshlensServer, project_dir: str, name: str) -> dict[str, Any]:
    dbt, dbt_args, _ = _options(ls)
    token = f"freshlens-freshness-{uuid.uuid4().hex[:8]}"
    cancel = threading.Event()
    caps = ls.client_capabilities
    progress = bool(caps.window and caps.window.work_done_progress)
    loop = asyncio.get_running_loop()
    if progress:
        try:
            await ls.work_done_progress.create_async(token)
            ls.work_done_progress.begin(
                token,
                types.WorkDoneProgressBegin(
                    title=f"freshlens: refreshing source freshness of {name}", cancellable=True
                ),
            )
            fut = ls.work_done_progress.tokens.get(token)
            if fut is not None:
                fut.add_done_callback(lambda _f: cancel.set())  # the user pressed cancel
        except Exception:  # a client that refuses progress: refresh without it
            progress = False

    def echo(line: str) -> None:
        if progress and line.strip():
            loop.call_soon_threadsafe(
                ls.work_done_progress.report, token, types.WorkDoneProgressReport(message=line.strip()[:120])
            )

    try:
        res = await loop.run_in_executor(None, lambda: refresh(project_dir, dbt, dbt_args, echo, cancel))
    except RefreshError as exc:
        if progress:
            ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message="failed"))
        log.warning("freshness refresh of %s failed: %s", project_dir, exc)
        _offer_log(ls, f"freshlens: source freshness of {name} was not refreshed: {exc}", project_dir)
        return {"project": project_dir, "error": str(exc)}
    if progress:
        ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=res.summary()))
    return {"project": project_dir, **res.as_json()}


def _offer_log(ls: FreshlensServer, message: str, project_dir: str) -> None:
    from freshlens.runner.refresh import LOG_FILE

    log_path = os.path.join(project_dir, LOG_FILE)

    async def ask() -> None:
        try:
            pick = await ls.window_show_message_request_async(
                types.ShowMessageRequestParams(
                    type=types.MessageType.Error,
                    message=message,
                    actions=[types.MessageActionItem(title="Open log")],
                )
            )
            if pick is not None and pick.title == "Open log" and os.path.exists(log_path):
                await ls.window_show_document_async(
                    types.ShowDocumentParams(uri=from_fs_path(log_path) or log_path, take_focus=True)
                )
        except Exception:  # a client without showMessageRequest/showDocument: the log has it
            log.info("could not offer the refresh log to the client")

    task = asyncio.ensure_future(ask())
    _asking.add(task)  # keep a reference until the user answers
    task.add_done_callback(_asking.discard)


async def refresh_projects(ls: FreshlensServer, dirs: list[str]) -> list[dict[str, Any]]:
    assert ls.ws is not None
    names = {p.dir: (p.index.name if p.index else os.path.basename(p.dir)) for p in ls.ws.projects.values()}
    out = []
    for d in dirs:
        running = _running.get(d)
        if running is not None and not running.done():
            out.append(await running)  # one refresh per project at a time: join the one under way
            continue
        task = asyncio.ensure_future(_refresh_one(ls, d, names.get(d, os.path.basename(d))))
        _running[d] = task
        try:
            out.append(await task)
        finally:
            _running.pop(d, None)
    replan(ls)
    return out


@server.command("freshlens.refreshFreshness")
async def cmd_refresh_freshness(ls: FreshlensServer, *args: Any) -> dict[str, Any]:
    """Refresh current source freshness with the user's dbt: every project, or the one holding the
    file or folder given (a URI or a path). Returns what each refresh did."""
    await ls.ready.wait()
    if ls.ws is None:
        return {"projects": []}
    return {"projects": await refresh_projects(ls, _projects(ls, args))}


async def schedule(ls: FreshlensServer) -> None:
    """Refresh every ``freshness.refreshMinutes`` minutes while that setting is above 0."""
    await ls.ready.wait()
    while True:
        minutes = _options(ls)[2]
        if minutes <= 0:
            await asyncio.sleep(30)  # the setting may be turned on later
            continue
        await asyncio.sleep(minutes * 60)
        if _options(ls)[2] <= 0 or ls.ws is None:
            continue
        try:
            await refresh_projects(ls, sorted(p.dir for p in ls.ws.projects.values()))
        except Exception:
            log.exception("scheduled freshness refresh failed")
