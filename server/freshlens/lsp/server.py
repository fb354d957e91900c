"""The language server: thin handlers that translate LSP to the pure core and publish results."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from freshlens import __version__
from freshlens.lsp.convert import to_diagnostic
from freshlens.lsp.protocol import FreshlensProtocol
from freshlens.project.reading import read_text
from freshlens.rules.v2_resolve import ENGINES
from freshlens.workspace import Workspace

log = logging.getLogger("freshlens.lsp")


class FreshlensServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("freshlens", __version__, protocol_cls=FreshlensProtocol)
        self.ws: Workspace | None = None
        self.settings: dict[str, Any] = {}
        self.versions: dict[str, int | None] = {}
        self.pending: dict[str, asyncio.Task[None]] = {}
        self.published: set[str] = set()
        self.ready = asyncio.Event()
        self.plans: dict[str, Any] = {}  # project file -> PlanResult
        self.replan_task: asyncio.Task[None] | None = None
        self.ticker: asyncio.Task[None] | None = None
        self.refresher: asyncio.Task[None] | None = None

    def report_server_error(self, error: Exception, source: Any) -> None:
        # Our own bugs are logged, never shown to the user as error boxes.
        log.error(
            "freshlens internal error (%s): %s", getattr(source, "__name__", source), error, exc_info=error
        )


server = FreshlensServer()


def _lines(ls: FreshlensServer, path: str) -> list[str]:
    assert ls.ws is not None
    parsed = ls.ws.cache.get(path)
    if parsed is not None:
        return parsed.text.split("\n")
    try:  # not read yet (a warm start publishes before reading): the columns need the line's text
        return read_text(path).split("\n")
    except (OSError, UnicodeDecodeError):
        return []


def publish(ls: FreshlensServer, paths: set[str] | list[str]) -> None:
    if ls.ws is None:
        return
    findings = ls.ws.findings()
    codec = ls.workspace.position_codec
    for path in sorted(paths):
        lst = findings.get(path, [])
        uri = from_fs_path(path) or path
        diags = [to_diagnostic(f, codec, lambda p: _lines(ls, p)) for f in lst]
        if diags:
            ls.published.add(path)
        elif path not in ls.published:
            continue
        else:
            ls.published.discard(path)
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diags, version=ls.versions.get(path))
        )


def apply_settings(ls: FreshlensServer, settings: Any) -> bool:
    """Take new settings; True when what the projects are rendered with changed (vars, envVars)."""
    if isinstance(settings, dict):
        inner = settings.get("freshlens", settings)
        if isinstance(inner, dict):
            ls.settings.update(inner)
    _apply_trace(str(ls.settings.get("trace") or "off"))
    if ls.ws is None:
        return False
    overrides = ls.settings.get("severityOverrides") or {}
    ls.ws.severity_overrides = (
        {str(k): str(v).lower() for k, v in overrides.items()} if isinstance(overrides, dict) else {}
    )
    engine = str(ls.settings.get("engine") or "auto").lower()
    if engine not in ENGINES:
        log.warning("setting engine=%r is not one of %s: using auto", engine, ", ".join(ENGINES))
        engine = "auto"
    ls.ws.engine = engine
    new_vars = ls.settings.get("vars")
    new_vars = dict(new_vars) if isinstance(new_vars, dict) else {}
    new_env = dict(os.environ) if ls.settings.get("envVars") is True else None
    changed = new_vars != ls.ws.vars or new_env != ls.ws.env
    ls.ws.vars, ls.ws.env = new_vars, new_env
    return changed


def _apply_trace(level: str) -> None:
    """`trace` setting: off = warnings only, messages = freshlens' own info, verbose = everything (pygls too)."""
    root = logging.getLogger()
    ours = logging.getLogger("freshlens")
    if level == "verbose":
        root.setLevel(logging.DEBUG)
        ours.setLevel(logging.DEBUG)
    elif level == "messages":
        root.setLevel(logging.WARNING)
        ours.setLevel(logging.INFO)
    else:
        root.setLevel(logging.WARNING)
        ours.setLevel(logging.WARNING)


@server.feature(types.INITIALIZE)
def on_initialize(ls: FreshlensServer, params: types.InitializeParams) -> None:
    roots: list[str] = []
    for f in params.workspace_folders or []:
        p = to_fs_path(f.uri)
        if p:
            roots.append(p)
    if not roots and params.root_uri:
        p = to_fs_path(params.root_uri)
        if p:
            roots.append(p)
    ls.ws = Workspace(roots)
    apply_settings(ls, params.initialization_options or {})


@server.feature(types.INITIALIZED)
async def on_initialized(ls: FreshlensServer, params: types.InitializedParams) -> None:
    assert ls.ws is not None
    token = "freshlens-index"
    progress = False
    caps = ls.client_capabilities
    try:
        if not (caps.window and caps.window.work_done_progress):
            raise RuntimeError("no progress support")
        await ls.work_done_progress.create_async(token)
        ls.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title="freshlens: indexing dbt projects")
        )
        progress = True
    except Exception:  # the client may not support progress
        progress = False
    loop = asyncio.get_running_loop()
    try:
        # Warm start: when nothing changed since the last complete check, its findings are this
        # check's findings: publish them now, then index behind them (and republish what differs).
        if await loop.run_in_executor(None, ls.ws.load_cached):
            publish(ls, set(ls.ws.findings()))
        await loop.run_in_executor(None, ls.ws.load)
    finally:
        ls.ready.set()
    apply_settings(ls, {})
    if ls.ws.severity_overrides:
        for proj in ls.ws.projects.values():
            proj.findings = ls.ws._check(proj) if proj.index else proj.findings
    publish(ls, set(ls.ws.findings()))
    replan(ls)
    ls.ticker = asyncio.ensure_future(_tick(ls))
    ls.refresher = asyncio.ensure_future(_freshness.schedule(ls))  # only if the user set a schedule
    if progress:
        n = sum(len(p.index.nodes) if p.index else 0 for p in ls.ws.projects.values())
        ls.work_done_progress.end(
            token, types.WorkDoneProgressEnd(message=f"{n} nodes in {len(ls.ws.projects)} project(s)")
        )
    ws_caps = caps.workspace
    watch = ws_caps.did_change_watched_files if ws_caps else None
    if not (watch and watch.dynamic_registration):
        return
    try:
        await ls.client_register_capability_async(
            types.RegistrationParams(
                registrations=[
                    types.Registration(
                        id="freshlens-watch",
                        method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                        register_options=types.DidChangeWatchedFilesRegistrationOptions(
                            watchers=[
                                types.FileSystemWatcher(
                                    glob_pattern="**/{*.sql,*.yml,*.yaml,*.py,*.csv,*.json,*.db,.dbtignore}"
                                )
                            ]
                        ),
                    )
                ]
            )
        )
    except Exception:
        log.info("client does not support dynamic file watching")


def _update(ls: FreshlensServer, path: str, text: str | None) -> None:
    if ls.ws is None:
        return
    changed = ls.ws.update_file(path, text)
    changed.add(path)
    publish(ls, changed)
    schedule_replan(ls)


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
async def did_open(ls: FreshlensServer, params: types.DidOpenTextDocumentParams) -> None:
    path = to_fs_path(params.text_document.uri)
    if not path:
        return
    ls.versions[path] = params.text_document.version  # open from now on, even while indexing
    await ls.ready.wait()
    if path in ls.versions:
        _update(ls, path, params.text_document.text)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
async def did_change(ls: FreshlensServer, params: types.DidChangeTextDocumentParams) -> None:
    path = to_fs_path(params.text_document.uri)
    if not path or path not in ls.versions:
        return  # never opened: pygls has refused the change, the disk version stands
    ls.versions[path] = params.text_document.version
    if path in ls.pending:
        return  # an update is queued: it reads the newest text when it runs (edits coalesce)

    async def later() -> None:
        # Yield once so that changes already waiting in the stream are applied first; when the
        # server is idle this publishes at once (no fixed debounce).
        await asyncio.sleep(0)
        await ls.ready.wait()
        ls.pending.pop(path, None)
        if path not in ls.versions:
            return  # closed meanwhile: did_close went back to the disk version
        doc = ls.workspace.get_text_document(params.text_document.uri)
        _update(ls, path, doc.source)

    ls.pending[path] = asyncio.ensure_future(later())


@server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.TextDocumentSaveRegistrationOptions(include_text=False))
async def did_save(ls: FreshlensServer, params: types.DidSaveTextDocumentParams) -> None:
    await ls.ready.wait()
    path = to_fs_path(params.text_document.uri)
    if not path:
        return
    doc = ls.workspace.get_text_document(params.text_document.uri)
    _update(ls, path, doc.source)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
async def did_close(ls: FreshlensServer, params: types.DidCloseTextDocumentParams) -> None:
    path = to_fs_path(params.text_document.uri)
    if not path:
        return
    ls.versions.pop(path, None)
    queued = ls.pending.pop(path, None)
    if queued is not None:
        queued.cancel()  # an edit of the closed buffer must not come back as the file's text
    await ls.ready.wait()
    if ls.ws is not None and path not in ls.versions:
        publish(ls, ls.ws.close_file(path) | {path})


@server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
async def did_change_watched(ls: FreshlensServer, params: types.DidChangeWatchedFilesParams) -> None:
    await ls.ready.wait()
    if ls.ws is None:
        return
    changed: set[str] = set()
    cache_dir = f"{os.sep}.freshlens{os.sep}cache{os.sep}"
    events = [ev for ev in params.changes if cache_dir not in (to_fs_path(ev.uri) or "")]  # our own
    for ev in events:
        path = to_fs_path(ev.uri)
        if not path or path in ls.ws.overlay:
            continue  # the editor's buffer is the truth for open files
        if path.endswith((".json", ".db")) and os.path.basename(path) != "catalog.json":
            continue  # artifacts and the state store feed the plan only (re-planned below)
        changed |= ls.ws.update_file(path, None)
        changed.add(path)
    publish(ls, changed)
    _localruns.on_watched(ls, _localruns.watched_paths(events))
    if changed or any(ev.uri.endswith((".json", ".db")) for ev in events):
        schedule_replan(ls)


@server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
async def did_change_folders(ls: FreshlensServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
    # pygls has already updated ls.workspace.folders; the projects follow them
    await ls.ready.wait()
    if ls.ws is None:
        return
    roots = [p for f in ls.workspace.folders.values() if (p := to_fs_path(f.uri))]
    publish(ls, ls.ws.set_roots(roots))
    schedule_replan(ls)


@server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
def did_change_configuration(ls: FreshlensServer, params: types.DidChangeConfigurationParams) -> None:
    if ls.ws is None:
        return
    hints_were = bool(ls.settings.get("inlayHints"))
    rerender = apply_settings(ls, params.settings or {})
    before = set(ls.ws.findings())
    for proj in ls.ws.projects.values():
        if rerender:  # vars or envVars changed: the project's Jinja renders differently
            ls.ws._build(proj)
        elif proj.index is not None:
            proj.findings = ls.ws._check(proj)
    publish(ls, before | set(ls.ws.findings()))
    replan(ls)
    if hints_were or ls.settings.get("inlayHints"):
        from freshlens.lsp.editor import refresh_inlay_hints

        refresh_inlay_hints(ls)


@server.feature(types.TEXT_DOCUMENT_HOVER)
async def hover(ls: FreshlensServer, params: types.HoverParams) -> types.Hover | None:
    await ls.ready.wait()
    from freshlens.hover import hover_markdown

    path = to_fs_path(params.text_document.uri)
    if not path or ls.ws is None:
        return None
    doc = ls.workspace.get_text_document(params.text_document.uri)
    pos = ls.workspace.position_codec.position_from_client_units(doc.lines, params.position)
    for proj in ls.ws.projects_for(path):
        if proj.index is None:
            continue
        md = hover_markdown(proj.index, path, pos.line, pos.character, ls.ws.engine)
        if md:
            return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=md))
        for node in proj.index.nodes_in_file(path):
            on_name = (
                node.props is not None
                and node.props_path == path
                and node.props.name_span.contains(pos.line, pos.character)
            )
            if on_name or (node.path == path and pos.line == 0):
                text = explain_for(ls, node.unique_id)
                if text:
                    return types.Hover(
                        contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text)
                    )
    return None


# ------------------------------------------------------------------------------------------------
# predictions: plan, lenses, commands, status


def plan_options(ls: FreshlensServer) -> Any:
    from freshlens.planner.gather import PlanOptions, parse_time

    st = ls.settings
    at = None
    if st.get("at"):
        try:
            at = parse_time(str(st["at"]))
        except ValueError as exc:
            log.warning("ignoring the what-if time: %s", exc)
    regime = str(st.get("regime") or "auto")
    return PlanOptions(
        state=str(st.get("state") or ""),
        sources=str(st.get("sources") or ""),
        live=bool(st.get("liveFreshness")),
        at=at,
        regime=regime if regime in ("auto", "sao", "dbt-state") else "auto",
    )


def replan(ls: FreshlensServer) -> None:
    """Recompute every project's predictions, then refresh lenses and the status."""
    from freshlens.planner.gather import run_plan

    if ls.ws is None:
        return
    opts = plan_options(ls)
    texts = {p: v.text for p, v in ls.ws.cache.items()}
    plans: dict[str, Any] = {}
    problems: list[str] = []
    for key, proj in ls.ws.projects.items():
        if proj.index is None:
            continue
        try:
            res = run_plan(proj.index, opts, texts)
        except Exception:
            log.exception("planning failed for %s", proj.dir)
            problems.append(f"planning failed for {proj.dir}")
            continue
        plans[key] = res
        problems.extend(res.problems)
    ls.plans = plans
    counts = {"build": 0, "reuse": 0, "unknown": 0, "other": 0}
    for res in plans.values():
        for action, n in res.counts().items():
            counts[action if action in counts else "other"] += n
    health = "error" if problems and not plans else "ok"
    state = _localruns.state_status(ls, plans, opts.at or datetime.now(UTC))
    ls.protocol.notify(
        "freshlens/status", {**counts, "health": health, "message": "; ".join(problems[:3]), "state": state}
    )
    caps = ls.client_capabilities.workspace
    if caps and caps.code_lens and caps.code_lens.refresh_support:
        try:
            ls.workspace_code_lens_refresh(None)
        except Exception:
            log.info("code lens refresh failed")


def schedule_replan(ls: FreshlensServer, delay: float = 0.5) -> None:
    if ls.replan_task is not None:
        ls.replan_task.cancel()

    async def later() -> None:
        await asyncio.sleep(delay)
        ls.replan_task = None
        replan(ls)

    ls.replan_task = asyncio.ensure_future(later())


async def _tick(ls: FreshlensServer) -> None:
    """Time passes windows: re-plan every minute so lenses say what a run would do now."""
    while True:
        await asyncio.sleep(60)
        try:
            replan(ls)
        except Exception:
            log.exception("periodic re-plan failed")


def decision_for(ls: FreshlensServer, uid: str) -> tuple[Any, Any, Any] | None:
    if ls.ws is None:
        return None
    for key, res in ls.plans.items():
        d = res.decisions.get(uid)
        if d is not None:
            return ls.ws.projects[key], res, d
    return None


def _lens_lines(node: Any) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    if node.path is not None:
        out.append((node.path, 0))
    if node.props is not None and node.props_path is not None:
        out.append((node.props_path, node.props.name_span.line))
    return out


@server.feature(types.TEXT_DOCUMENT_CODE_LENS)
async def code_lens(ls: FreshlensServer, params: types.CodeLensParams) -> list[types.CodeLens]:
    await ls.ready.wait()
    path = to_fs_path(params.text_document.uri)
    if not path or ls.ws is None or ls.settings.get("lenses") is False:
        return []
    lenses: list[types.CodeLens] = []
    for proj in ls.ws.projects_for(path):
        res = ls.plans.get(proj.project_file)
        if proj.index is None or res is None:
            continue
        for node in proj.index.nodes_in_file(path):
            d = res.decisions.get(node.unique_id)
            if d is None and node.eff("enabled").value is not False:
                continue
            for p, line in _lens_lines(node):
                if p != path:
                    continue
                rng = types.Range(
                    start=types.Position(line=line, character=0), end=types.Position(line=line, character=0)
                )
                lenses.append(
                    types.CodeLens(
                        range=rng,
                        command=types.Command(
                            title=lens_title(node, d.lens if d is not None else ""),
                            command="freshlens.explain",
                            arguments=[node.unique_id],
                        ),
                        data={"unique_id": node.unique_id},
                    )
                )
    return lenses


def lens_title(node: Any, title: str) -> str:
    """The lens, with what the index could not see said on it (FL012: a render that stopped)."""
    if node.eff("enabled").value is False:
        return "Disabled · enabled: false — not in the DAG, never built"
    if node.render is not None and not node.render.ok:
        if node.state_parents:
            return f"{title} · parents from the last build (FL012)"
        return f"{title} · DAG may be incomplete (FL012)"
    return title


def render_note(node: Any) -> str:
    """The explanation's paragraph about a render that stopped (empty when there is nothing to say)."""
    if node.render is None or node.render.ok:
        return ""
    if node.state_parents:
        names = ", ".join(f"`{p}`" for p in node.state_parents)
        return (
            "\n\n**Parents from the last build.** freshlens could not render this model's Jinja as dbt parse "
            f"would ({node.render.problem}); its code is unchanged since its last build, so the parents dbt "
            f"recorded then are used: {names} (FL012). A var or macro change since then may move them."
        )
    return (
        "\n\n**DAG may be incomplete.** freshlens could not render this model's Jinja as dbt parse would "
        f"({node.render.problem}); its parents come from a static read only, so an upstream this model reads "
        "through Jinja may be missing from the inputs above (FL012)."
    )


def explain_for(ls: FreshlensServer, arg: str) -> str | None:
    from freshlens.planner.core import explain_markdown

    if ls.ws is None:
        return None
    uid = arg
    if arg.startswith("file:"):
        path = to_fs_path(arg)
        uid = ""
        for proj in ls.ws.projects_for(path or ""):
            if proj.index is not None:
                nodes = proj.index.nodes_in_file(path or "")
                if nodes:
                    uid = nodes[0].unique_id
                    break
    got = decision_for(ls, uid)
    if got is None:
        return None
    proj, res, d = got
    text = explain_markdown(d, res.at, res.regime, proj.dir, res.state_run_source, res.state_run_at)
    node = proj.index.nodes.get(d.unique_id) if proj.index is not None else None
    return text + (render_note(node) if node is not None else "")


@server.command("freshlens.explain")
async def cmd_explain(ls: FreshlensServer, *args: Any) -> dict[str, str]:
    await ls.ready.wait()
    flat = [a for a in args if isinstance(a, str)] or [
        x for a in args if isinstance(a, list) for x in a if isinstance(x, str)
    ]
    md = explain_for(ls, flat[0]) if flat else None
    return {
        "markdown": md
        or "freshlens has no prediction for this file: is it a model of an indexed dbt project?"
    }


@server.command("freshlens.plan")
async def cmd_plan(ls: FreshlensServer, *args: Any) -> Any:
    from freshlens.planner.gather import plan_json

    await ls.ready.wait()
    if ls.ws is None:
        return {"version": 1, "projects": []}
    docs = []
    for key, res in ls.plans.items():
        proj = ls.ws.projects.get(key)
        if proj is not None and proj.index is not None:
            docs.append(plan_json(proj.index, res))
    if len(docs) == 1:
        return docs[0]
    return {"version": 1, "projects": docs}


@server.command("freshlens.planReport")
async def cmd_plan_report(ls: FreshlensServer, *args: Any) -> Any:
    """The plan report (table rows + lineage graph) of every project, for the editor's plan view."""
    from freshlens.report import build_report

    await ls.ready.wait()
    if ls.ws is None:
        return build_report([])
    plans = []
    for key, res in ls.plans.items():
        proj = ls.ws.projects.get(key)
        if proj is not None and proj.index is not None:
            plans.append((proj.index, res))
    return build_report(plans, root=True)


@server.command("freshlens.refresh")
async def cmd_refresh(ls: FreshlensServer, *args: Any) -> None:
    await ls.ready.wait()
    replan(ls)


@server.command("freshlens.clearState")
async def cmd_clear(ls: FreshlensServer, *args: Any) -> None:
    from freshlens.state import StateError, default_state_path, is_postgres_url, open_store, resolve_state

    await ls.ready.wait()
    if ls.ws is None:
        return
    cleared: set[str] = set()
    for proj in ls.ws.projects.values():
        opt = str(ls.settings.get("state") or "")
        path = resolve_state(proj.dir, opt, str(default_state_path(proj.dir)))
        if not is_postgres_url(path) and (os.path.isdir(path) or not os.path.exists(path)):
            continue  # an artifacts directory is read-only state; nothing to clear
        if path in cleared:  # projects sharing one store (a team database): clear it once
            continue
        cleared.add(path)
        try:
            with open_store(path) as store:
                store.clear()
        except StateError as exc:
            log.warning("cannot clear the state store: %s", exc)  # the message names it, redacted
    replan(ls)


@server.feature(
    types.TEXT_DOCUMENT_CODE_ACTION,
    types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.RefactorRewrite]
    ),
)
async def code_action(ls: FreshlensServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    from freshlens.lsp.actions import quick_fix

    await ls.ready.wait()
    from freshlens.model import Span

    doc = ls.workspace.get_text_document(params.text_document.uri)
    lines = doc.source.split("\n")
    codec = ls.workspace.position_codec
    out: list[types.CodeAction] = []
    for diag in params.context.diagnostics:
        data = diag.data if isinstance(diag.data, dict) else None
        fix = data.get("fix", "") if data else ""
        if diag.source != "freshlens" or not isinstance(fix, str):
            continue
        r = codec.range_from_client_units(doc.lines, diag.range)
        span = Span(r.start.line, r.start.character, r.end.line, r.end.character)
        qf = quick_fix(
            fix,
            str(diag.code),
            span,
            lines,
            doc.uri.endswith(".sql"),
            {str(k): str(v) for k, v in (data or {}).items()},
        )
        if qf is None:
            continue
        edits = _text_edits(qf.edits, codec, doc.lines)
        out.append(
            types.CodeAction(
                title=f"{qf.title} ({diag.code})",
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[diag],
                edit=types.WorkspaceEdit(changes={doc.uri: edits}),
                is_preferred=True,
            )
        )
    from freshlens.lsp.editor import fix_all_actions

    out.extend(fix_all_actions(ls, doc, lines, {str(d.code) for d in params.context.diagnostics}))
    out.extend(_migration_actions(ls, doc, lines, params))
    return out


def _text_edits(edits: Any, codec: Any, lines: Any) -> list[types.TextEdit]:
    return [
        types.TextEdit(
            range=codec.range_to_client_units(
                lines,
                types.Range(
                    start=types.Position(line=e.span.line, character=e.span.col),
                    end=types.Position(line=e.span.end_line, character=e.span.end_col),
                ),
            ),
            new_text=e.new_text,
        )
        for e in edits
    ]


def _migration_actions(
    ls: FreshlensServer, doc: Any, lines: list[str], params: types.CodeActionParams
) -> list[types.CodeAction]:
    """On a YAML `freshness` whose build_after is literal: offer the dbt State equivalent next to it."""
    from freshlens.index import plain
    from freshlens.lsp.actions import add_state_block, state_equivalent

    path = to_fs_path(params.text_document.uri)
    if not path or ls.ws is None or not path.endswith((".yml", ".yaml")):
        return []
    codec = ls.workspace.position_codec
    pos = codec.position_from_client_units(doc.lines, params.range.start)
    for proj in ls.ws.projects_for(path):
        if proj.index is None:
            continue
        for node in proj.index.models():
            for st in node.settings.get("freshness", []):
                if st.path != path or not st.key_node.span.contains(pos.line, pos.character):
                    continue
                v = plain(st.value)
                ba = v.get("build_after") if isinstance(v, dict) else None
                if not isinstance(ba, dict):
                    return []
                c, p, u = ba.get("count"), ba.get("period"), ba.get("updates_on") or "any"
                if not isinstance(c, int) or isinstance(c, bool) or p not in ("minute", "hour", "day"):
                    return []
                key = "+state" if st.layer == "dbt_project.yml" else "state"
                fix = add_state_block(st.key_node.span, lines, key, state_equivalent(c, str(p), str(u)))
                if fix is None:
                    return []
                edits = _text_edits(fix.edits, codec, doc.lines)
                return [
                    types.CodeAction(
                        title=fix.title,
                        kind=types.CodeActionKind.RefactorRewrite,
                        edit=types.WorkspaceEdit(changes={doc.uri: edits}),
                    )
                ]
    return []


# completion, navigation, outline and inlay hints register their handlers on ``server``
from freshlens.lsp import editor as _editor  # noqa: E402,F401
from freshlens.lsp import freshness as _freshness  # noqa: E402
from freshlens.lsp import localruns as _localruns  # noqa: E402


def serve() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    server.start_io()
