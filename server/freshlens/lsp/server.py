"""The language server: thin handlers that translate LSP to the pure core and publish results."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from freshlens import __version__
from freshlens.lsp.convert import to_diagnostic
from freshlens.workspace import Workspace

log = logging.getLogger("freshlens.lsp")

DEBOUNCE_SECONDS = 0.3


class FreshlensServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("freshlens", __version__)
        self.ws: Workspace | None = None
        self.settings: dict[str, Any] = {}
        self.versions: dict[str, int | None] = {}
        self.pending: dict[str, asyncio.Task[None]] = {}
        self.published: set[str] = set()
        self.ready = asyncio.Event()

    def report_server_error(self, error: Exception, source: Any) -> None:
        # Our own bugs are logged, never shown to the user as error boxes.
        log.error(
            "freshlens internal error (%s): %s", getattr(source, "__name__", source), error, exc_info=error
        )


server = FreshlensServer()


def _lines(ls: FreshlensServer, path: str) -> list[str]:
    assert ls.ws is not None
    parsed = ls.ws.cache.get(path)
    return parsed.text.split("\n") if parsed is not None else []


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


def apply_settings(ls: FreshlensServer, settings: Any) -> None:
    if isinstance(settings, dict):
        inner = settings.get("freshlens", settings)
        if isinstance(inner, dict):
            ls.settings.update(inner)
    if ls.ws is not None:
        overrides = ls.settings.get("severityOverrides") or {}
        ls.ws.severity_overrides = (
            {str(k): str(v).lower() for k, v in overrides.items()} if isinstance(overrides, dict) else {}
        )


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
        await loop.run_in_executor(None, ls.ws.load)
    finally:
        ls.ready.set()
    apply_settings(ls, {})
    if ls.ws.severity_overrides:
        for proj in ls.ws.projects.values():
            proj.findings = ls.ws._check(proj) if proj.index else proj.findings
    publish(ls, set(ls.ws.findings()))
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
                            watchers=[types.FileSystemWatcher(glob_pattern="**/*.{sql,yml,yaml,py,csv,json}")]
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


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
async def did_open(ls: FreshlensServer, params: types.DidOpenTextDocumentParams) -> None:
    await ls.ready.wait()
    path = to_fs_path(params.text_document.uri)
    if not path:
        return
    ls.versions[path] = params.text_document.version
    _update(ls, path, params.text_document.text)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
async def did_change(ls: FreshlensServer, params: types.DidChangeTextDocumentParams) -> None:
    path = to_fs_path(params.text_document.uri)
    if not path:
        return
    ls.versions[path] = params.text_document.version
    old = ls.pending.pop(path, None)
    if old is not None:
        old.cancel()

    async def later() -> None:
        await asyncio.sleep(DEBOUNCE_SECONDS)
        await ls.ready.wait()
        ls.pending.pop(path, None)
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
    await ls.ready.wait()
    path = to_fs_path(params.text_document.uri)
    if not path or ls.ws is None:
        return
    ls.versions.pop(path, None)
    publish(ls, ls.ws.close_file(path) | {path})


@server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
async def did_change_watched(ls: FreshlensServer, params: types.DidChangeWatchedFilesParams) -> None:
    await ls.ready.wait()
    if ls.ws is None:
        return
    changed: set[str] = set()
    for ev in params.changes:
        path = to_fs_path(ev.uri)
        if not path or path in ls.ws.overlay:
            continue  # the editor's buffer is the truth for open files
        changed |= ls.ws.update_file(path, None)
        changed.add(path)
    publish(ls, changed)


@server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
def did_change_configuration(ls: FreshlensServer, params: types.DidChangeConfigurationParams) -> None:
    if ls.ws is None:
        return
    apply_settings(ls, params.settings or {})
    before = set(ls.ws.findings())
    for proj in ls.ws.projects.values():
        if proj.index is not None:
            proj.findings = ls.ws._check(proj)
    publish(ls, before | set(ls.ws.findings()))


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
        md = hover_markdown(proj.index, path, pos.line, pos.character)
        if md:
            return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=md))
    return None


def serve() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    server.start_io()
