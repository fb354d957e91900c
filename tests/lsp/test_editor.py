"""Completion, go to definition, references, outline and inlay hints through pytest-lsp.

Run with VS Code's and Neovim's client capabilities (Neovim has no snippet-free default: its
capabilities still decide whether the lag_tolerance snippet is offered).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

PROJECT = {
    "dbt_project.yml": (
        "name: demo\nversion: '1.0'\nprofile: demo\nmodels:\n  demo:\n"
        "    +freshness:\n      build_after: {count: 4, period: hour}\n"
    ),
    "models/a.sql": "select 1 as id\n",
    "models/b.sql": "select * from {{ ref('a') }}\n",
    "models/schema.yml": "version: 2\nmodels:\n  - name: a\n    columns:\n      - name: id\n",
}


@pytest_lsp.fixture(
    params=["visual-studio-code", "neovim"],
    config=ClientServerConfig(server_command=[sys.executable, "-m", "freshlens", "serve"]),
)
async def client(
    lsp_client: LanguageClient, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
):
    root = tmp_path_factory.mktemp("proj")
    for rel, text in PROJECT.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)

    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def _register(params: types.RegistrationParams) -> None:
        return None

    @lsp_client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def _refresh(params: None) -> None:
        return None

    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(request.param),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="demo")],
            initialization_options={"freshlens": {"inlayHints": True}},
        )
    )
    lsp_client.root = root  # type: ignore[attr-defined]
    lsp_client.flavour = request.param  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()
    shutil.rmtree(root, ignore_errors=True)


def _open(client: LanguageClient, path: Path, text: str, lang: str) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id=lang, version=1, text=text)
        )
    )
    return uri


async def test_completion_lists_keys_and_resolves_docs(client: LanguageClient) -> None:
    root: Path = client.root  # type: ignore[attr-defined]
    text = "name: demo\nmodels:\n  demo:\n    +state:\n      lag_tolerance: \n"
    uri = _open(client, root / "dbt_project.yml", text, "yaml")
    res = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=4, character=21)
        )
    )
    assert isinstance(res, types.CompletionList)
    labels = [i.label for i in res.items]
    assert labels[0] == "45m"
    snippets = [i for i in res.items if i.insert_text_format == types.InsertTextFormat.Snippet]
    caps = client_capabilities(client.flavour)  # type: ignore[attr-defined]
    td = caps.text_document
    wants = bool(
        td
        and td.completion
        and td.completion.completion_item
        and td.completion.completion_item.snippet_support
    )
    assert bool(snippets) == wants
    keys = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=3, character=4)
        )
    )
    assert isinstance(keys, types.CompletionList)
    item = next(i for i in keys.items if i.label == "+state")
    assert isinstance(item.text_edit, types.TextEdit)
    assert item.text_edit.new_text == "+state: "
    assert item.text_edit.range.start == types.Position(line=3, character=4)
    resolved = await client.completion_item_resolve_async(item)
    assert isinstance(resolved.documentation, types.MarkupContent)
    assert "lag_tolerance" in resolved.documentation.value


async def test_ref_completion_definition_and_references(client: LanguageClient) -> None:
    root: Path = client.root  # type: ignore[attr-defined]
    uri = _open(client, root / "models/c.sql", "select * from {{ ref('') }}\n", "sql")
    res = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=0, character=22)
        )
    )
    assert isinstance(res, types.CompletionList)
    assert {"a", "b"} <= {i.label for i in res.items}
    b_uri = (root / "models/b.sql").as_uri()
    locs = await client.text_document_definition_async(
        types.DefinitionParams(
            text_document=types.TextDocumentIdentifier(uri=b_uri),
            position=types.Position(line=0, character=23),
        )
    )
    assert isinstance(locs, list) and len(locs) == 1
    loc = locs[0]
    assert isinstance(loc, types.Location)
    assert loc.uri == (root / "models/a.sql").as_uri() and loc.range.start.line == 0
    refs = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=types.TextDocumentIdentifier(uri=(root / "models/schema.yml").as_uri()),
            position=types.Position(line=2, character=11),
            context=types.ReferenceContext(include_declaration=False),
        )
    )
    assert refs is not None and [(r.uri, r.range.start.line) for r in refs] == [(b_uri, 0)]


async def test_outline_and_inlay_hints(client: LanguageClient) -> None:
    root: Path = client.root  # type: ignore[attr-defined]
    uri = (root / "models/schema.yml").as_uri()
    syms = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert syms is not None
    (model,) = syms
    assert isinstance(model, types.DocumentSymbol)
    assert model.name == "a" and model.selection_range.start == types.Position(line=2, character=10)
    assert [c.name for c in model.children or []] == ["id"]
    hints = await client.text_document_inlay_hint_async(
        types.InlayHintParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(
                start=types.Position(line=0, character=0), end=types.Position(line=5, character=0)
            ),
        )
    )
    assert hints is not None and len(hints) == 1
    (hint,) = hints
    assert hint.position == types.Position(line=2, character=11)
    assert isinstance(hint.label, list)
    assert hint.label[0].value == "⏱ 4h · dbt_project.yml:6"
    assert hint.label[0].location is not None and hint.label[0].location.range.start.line == 5
