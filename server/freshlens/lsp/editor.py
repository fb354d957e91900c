"""Editor ergonomics over LSP: completion, go to definition, references, outline, inlay hints.

Thin handlers: each reads the document, converts the position to code points, calls the pure core
(``freshlens.completion`` / ``freshlens.navigation``) and converts the answer back.
"""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path

from freshlens.lsp.convert import to_range
from freshlens.lsp.server import FreshlensServer, _lines, server
from freshlens.model import Loc, Span

log = logging.getLogger("freshlens.lsp")

_KINDS = {
    "key": types.CompletionItemKind.Property,
    "value": types.CompletionItemKind.EnumMember,
    "model": types.CompletionItemKind.File,
    "source": types.CompletionItemKind.Module,
    "table": types.CompletionItemKind.Class,
    "package": types.CompletionItemKind.Folder,
    "version": types.CompletionItemKind.Constant,
    "folder": types.CompletionItemKind.Folder,
    "snippet": types.CompletionItemKind.Snippet,
}
_SYMBOLS = {
    "model": types.SymbolKind.Class,
    "seed": types.SymbolKind.File,
    "snapshot": types.SymbolKind.Class,
    "analysis": types.SymbolKind.Class,
    "version": types.SymbolKind.Constant,
    "source": types.SymbolKind.Module,
    "table": types.SymbolKind.Struct,
    "column": types.SymbolKind.Field,
}


def _where(ls: FreshlensServer, uri: str, position: types.Position) -> tuple[str, Any, int, int] | None:
    """(path, document, line, column in code points) of a request's position."""
    path = to_fs_path(uri)
    if not path or ls.ws is None:
        return None
    doc = ls.workspace.get_text_document(uri)
    pos = ls.workspace.position_codec.position_from_client_units(doc.lines, position)
    return path, doc, pos.line, pos.character


def _index(ls: FreshlensServer, path: str) -> Any:
    assert ls.ws is not None
    for proj in ls.ws.projects_for(path):
        if proj.index is not None:
            return proj.index
    return None


def _location(ls: FreshlensServer, loc: Loc) -> types.Location:
    return types.Location(
        uri=from_fs_path(loc.path) or loc.path,
        range=to_range(loc.span, ls.workspace.position_codec, _lines(ls, loc.path)),
    )


def _snippets(ls: FreshlensServer) -> bool:
    td = ls.client_capabilities.text_document
    ci = td.completion.completion_item if td and td.completion else None
    return bool(ci and ci.snippet_support)


@server.feature(
    types.TEXT_DOCUMENT_COMPLETION,
    types.CompletionOptions(trigger_characters=["'", '"', "+", "(", ","], resolve_provider=True),
)
async def completion(ls: FreshlensServer, params: types.CompletionParams) -> types.CompletionList | None:
    from freshlens.completion import SNIPPET, complete

    await ls.ready.wait()
    got = _where(ls, params.text_document.uri, params.position)
    if got is None:
        return None
    path, doc, line, col = got
    res = complete(_index(ls, path), path, doc.source, line, col)
    codec = ls.workspace.position_codec
    rng = codec.range_to_client_units(
        doc.lines,
        types.Range(start=types.Position(line, res.start_col), end=types.Position(line, col)),
    )
    snippets = _snippets(ls)
    items = []
    for it in res.items:
        if it.snippet and not snippets:
            continue
        items.append(
            types.CompletionItem(
                label=it.label,
                kind=_KINDS.get(it.kind),
                detail=it.detail or None,
                sort_text=it.sort or None,
                filter_text=it.label,
                text_edit=types.TextEdit(range=rng, new_text=it.insert),
                insert_text_format=types.InsertTextFormat.Snippet
                if it.kind == SNIPPET
                else types.InsertTextFormat.PlainText,
                data={"path": path, **it.data} if it.data else None,
            )
        )
    return types.CompletionList(is_incomplete=res.incomplete, items=items)


@server.feature(types.COMPLETION_ITEM_RESOLVE)
async def completion_resolve(ls: FreshlensServer, item: types.CompletionItem) -> types.CompletionItem:
    from freshlens.completion import resolve_doc

    await ls.ready.wait()
    data = item.data if isinstance(item.data, dict) else {}
    path = str(data.get("path") or "")
    idx = _index(ls, path) if path and ls.ws is not None else None
    md = resolve_doc(idx, {str(k): str(v) for k, v in data.items()})
    if md:
        item.documentation = types.MarkupContent(kind=types.MarkupKind.Markdown, value=md)
    return item


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
async def definition(ls: FreshlensServer, params: types.DefinitionParams) -> list[types.Location] | None:
    from freshlens.navigation import definition as find

    await ls.ready.wait()
    got = _where(ls, params.text_document.uri, params.position)
    if got is None:
        return None
    path, _doc, line, col = got
    idx = _index(ls, path)
    if idx is None:
        return None
    return [_location(ls, loc) for loc in find(idx, path, line, col)] or None


@server.feature(types.TEXT_DOCUMENT_REFERENCES)
async def references(ls: FreshlensServer, params: types.ReferenceParams) -> list[types.Location] | None:
    from freshlens.navigation import references as find

    await ls.ready.wait()
    got = _where(ls, params.text_document.uri, params.position)
    if got is None:
        return None
    path, _doc, line, col = got
    idx = _index(ls, path)
    if idx is None:
        return None
    locs = find(idx, path, line, col, params.context.include_declaration)
    return [_location(ls, loc) for loc in locs] or None


def _symbol(ls: FreshlensServer, lines: list[str], s: Any) -> types.DocumentSymbol:
    codec = ls.workspace.position_codec
    return types.DocumentSymbol(
        name=s.name,
        kind=_SYMBOLS.get(s.kind, types.SymbolKind.Object),
        range=to_range(s.span, codec, lines),
        selection_range=to_range(s.selection, codec, lines),
        detail=s.detail or None,
        children=[_symbol(ls, lines, c) for c in s.children] or None,
    )


@server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
async def document_symbols(
    ls: FreshlensServer, params: types.DocumentSymbolParams
) -> list[types.DocumentSymbol] | None:
    import os

    from freshlens.navigation import symbols
    from freshlens.project.files import PropsFile, parse_props_file

    await ls.ready.wait()
    path = to_fs_path(params.text_document.uri)
    if not path or ls.ws is None or not path.endswith((".yml", ".yaml")):
        return None
    if os.path.basename(path) == "dbt_project.yml":
        return None
    doc = ls.workspace.get_text_document(params.text_document.uri)
    cached = ls.ws.cache.get(path)
    props = cached.value if cached is not None and cached.text == doc.source else None
    if not isinstance(props, PropsFile):
        props = parse_props_file(path, doc.source)
    lines = doc.source.split("\n")
    return [_symbol(ls, lines, s) for s in symbols(props)]


@server.feature(types.TEXT_DOCUMENT_INLAY_HINT, types.InlayHintOptions(resolve_provider=False))
async def inlay_hints(ls: FreshlensServer, params: types.InlayHintParams) -> list[types.InlayHint] | None:
    from freshlens.navigation import inlay_hints as hints
    from freshlens.planner.plan import choose_regime

    await ls.ready.wait()
    if not ls.settings.get("inlayHints"):
        return None  # opt-in
    path = to_fs_path(params.text_document.uri)
    if not path or ls.ws is None:
        return None
    doc = ls.workspace.get_text_document(params.text_document.uri)
    codec = ls.workspace.position_codec
    r = codec.range_from_client_units(doc.lines, params.range)
    out: list[types.InlayHint] = []
    lines = doc.source.split("\n")
    for proj in ls.ws.projects_for(path):
        if proj.index is None:
            continue
        plan = ls.plans.get(proj.project_file)
        regime = (
            plan.regime
            if plan is not None
            else choose_regime(proj.index, str(ls.settings.get("regime") or "auto"))
        )
        for h in hints(proj.index, path, regime, lines, r.start.line, r.end.line):
            pos = to_range(Span(h.line, h.col, h.line, h.col), codec, lines).start
            part = types.InlayHintLabelPart(
                value=h.label,
                tooltip=h.tooltip,
                location=_location(ls, h.target) if h.target is not None else None,
            )
            out.append(types.InlayHint(position=pos, label=[part], padding_left=True))
    return out


def refresh_inlay_hints(ls: FreshlensServer) -> None:
    """Ask the client to re-request inlay hints (the setting or the index changed)."""
    caps = ls.client_capabilities.workspace
    if caps and caps.inlay_hint and caps.inlay_hint.refresh_support:
        try:
            ls.workspace_inlay_hint_refresh(None)
        except Exception:
            log.info("inlay hint refresh failed")


def fix_all_actions(
    ls: FreshlensServer, doc: Any, lines: list[str], codes: set[str]
) -> list[types.CodeAction]:
    """The "Fix all FLxxx in this file" action for each requested code with two or more fixable findings."""
    from freshlens.lsp.actions import fix_all, quick_fix
    from freshlens.lsp.server import _text_edits

    path = to_fs_path(doc.uri)
    if not path or ls.ws is None:
        return []
    cached = ls.ws.cache.get(path)
    if cached is None or cached.text != doc.source:
        return []  # the findings are of an older text: positions would be off
    out: list[types.CodeAction] = []
    findings = ls.ws.findings().get(path, [])
    for code in sorted(codes):
        fixes = []
        for f in findings:
            if f.code != code:
                continue
            data = dict(f.data)
            qf = quick_fix(data.get("fix", ""), code, f.loc.span, lines, path.endswith(".sql"), data)
            if qf is not None:
                fixes.append(qf)
        combined = fix_all(fixes)
        if combined is None:
            continue
        edits = _text_edits(combined.edits, ls.workspace.position_codec, doc.lines)
        out.append(
            types.CodeAction(
                title=f"{combined.title} ({code})",
                kind=types.CodeActionKind.QuickFix,
                edit=types.WorkspaceEdit(changes={doc.uri: edits}),
            )
        )
    return out
