"""End to end through pytest-lsp, with VS Code's and Neovim's client capabilities."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

PROJECT = {
    "dbt_project.yml": "name: demo\nversion: '1.0'\nprofile: demo\nmodels:\n  demo:\n    +freshness:\n      build_after: {count: 4, period: hour}\n",
    "models/a.sql": "select 1 as id\n",
    "models/b.sql": "{{ config(freshness={'build_after': {'count': 2, 'period': 'week'}}) }}\nselect * from {{ ref('a') }}\n",
    "models/schema.yml": "version: 2\nmodels:\n  - name: a\n    config:\n      freshness:\n        build_after: {count: 1, period: day, updates_on: all}\n",
}


def _copy(tmp: Path) -> Path:
    for rel, text in PROJECT.items():
        p = tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp


@pytest_lsp.fixture(
    params=["visual-studio-code", "neovim"],
    config=ClientServerConfig(server_command=[sys.executable, "-m", "freshlens", "serve"]),
)
async def lsp_client(
    lsp_client: LanguageClient, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
):
    root = _copy(tmp_path_factory.mktemp("proj"))
    registrations: list[types.RegistrationParams] = []

    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def _register(params: types.RegistrationParams) -> None:  # a real client accepts registrations
        registrations.append(params)

    lsp_client.registrations = registrations  # type: ignore[attr-defined]

    @lsp_client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def _refresh(params: None) -> None:
        return None

    params = types.InitializeParams(
        capabilities=client_capabilities(request.param),
        root_uri=root.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="demo")],
    )
    await lsp_client.initialize_session(params)
    lsp_client.root = root  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()
    shutil.rmtree(root, ignore_errors=True)


async def _wait_diag(client: LanguageClient, uri: str, pred, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    import asyncio

    for _ in range(int(timeout / 0.05)):
        d = client.diagnostics.get(uri)
        if d is not None and pred(d):
            return d
        await asyncio.sleep(0.05)
    raise AssertionError(f"no matching diagnostics for {uri}: {client.diagnostics.get(uri)}")


async def test_startup_publishes_project_diagnostics(lsp_client: LanguageClient) -> None:
    root: Path = lsp_client.root  # type: ignore[attr-defined]
    uri = (root / "models/b.sql").as_uri()
    diags = await _wait_diag(lsp_client, uri, lambda d: any(x.code == "FL102" for x in d))
    d = next(x for x in diags if x.code == "FL102")
    assert d.severity == types.DiagnosticSeverity.Error
    # the range is the offending value 'week' on line 0
    line = PROJECT["models/b.sql"].splitlines()[0]
    assert (d.range.start.line, d.range.start.character) == (0, line.index("'week'"))
    assert d.range.end.character == line.index("'week'") + len("'week'")


async def test_edit_fixes_problem_and_publishes_empty(lsp_client: LanguageClient) -> None:
    root: Path = lsp_client.root  # type: ignore[attr-defined]
    uri = (root / "models/b.sql").as_uri()
    await _wait_diag(lsp_client, uri, lambda d: any(x.code == "FL102" for x in d))
    lsp_client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="sql", version=1, text=PROJECT["models/b.sql"]
            )
        )
    )
    fixed = PROJECT["models/b.sql"].replace("'week'", "'day'")
    lsp_client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=fixed)],
        )
    )
    await _wait_diag(lsp_client, uri, lambda d: len(d) == 0)


async def test_hover_shows_effective_value_and_provenance(lsp_client: LanguageClient) -> None:
    root: Path = lsp_client.root  # type: ignore[attr-defined]
    uri = (root / "models/schema.yml").as_uri()
    text = PROJECT["models/schema.yml"]
    lsp_client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="yaml", version=1, text=text)
        )
    )
    line = 4  # "      freshness:"
    res = await lsp_client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=8),
        )
    )
    assert res is not None
    md = res.contents.value  # type: ignore[union-attr]
    assert "model.demo.a" in md
    assert "schema.yml:5" in md
    assert "dbt_project.yml:6" in md  # the replaced project-level value
    assert "1day" in md


async def test_quick_fix_adds_plus_prefix(lsp_client: LanguageClient) -> None:
    root: Path = lsp_client.root  # type: ignore[attr-defined]
    uri = (root / "dbt_project.yml").as_uri()
    text = PROJECT["dbt_project.yml"].replace("+freshness", "freshness")
    lsp_client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="yaml", version=1, text=text)
        )
    )
    diags = await _wait_diag(lsp_client, uri, lambda d: any(x.code == "FL108" for x in d))
    d = next(x for x in diags if x.code == "FL108")
    actions = await lsp_client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=d.range,
            context=types.CodeActionContext(diagnostics=[d]),
        )
    )
    assert actions
    act = actions[0]
    assert isinstance(act, types.CodeAction) and act.edit is not None and act.edit.changes is not None
    (edit,) = act.edit.changes[uri]
    assert edit.new_text == "+" and edit.range.start == d.range.start


async def test_file_deleted_outside_the_editor_clears_its_diagnostics(lsp_client: LanguageClient) -> None:
    root: Path = lsp_client.root  # type: ignore[attr-defined]
    path = root / "models/b.sql"
    uri = path.as_uri()
    await _wait_diag(lsp_client, uri, lambda d: any(x.code == "FL102" for x in d))
    path.unlink()
    lsp_client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=uri, type=types.FileChangeType.Deleted)]
        )
    )
    await _wait_diag(lsp_client, uri, lambda d: len(d) == 0)


async def test_an_edit_sent_just_before_close_does_not_outlive_the_buffer(lsp_client: LanguageClient) -> None:
    """didChange then didClose in bursts: whatever update of the buffer is still queued at the close is
    dropped, so the server goes back to the disk version and follows the disk from then on (a later
    delete counts). The soak test meets the same interleavings at random."""
    root: Path = lsp_client.root  # type: ignore[attr-defined]
    a, b = root / "models/a.sql", root / "models/b.sql"
    doc = types.TextDocumentIdentifier(uri=a.as_uri())
    await _wait_diag(lsp_client, b.as_uri(), lambda d: any(x.code == "FL102" for x in d))
    for _ in range(10):
        lsp_client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=a.as_uri(), language_id="sql", version=1, text=a.read_text()
                )
            )
        )
        lsp_client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=a.as_uri(), version=2),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text="select {{ broken")],
            )
        )
        lsp_client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=doc))
    a.unlink()
    lsp_client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=a.as_uri(), type=types.FileChangeType.Deleted)]
        )
    )
    # b.sql's ref('a') no longer resolves: the server saw the delete, a.sql is not held open
    await _wait_diag(lsp_client, b.as_uri(), lambda d: any(x.code == "FL003" for x in d))
    assert not any(x.code == "FL002" for x in lsp_client.diagnostics.get(a.as_uri(), []))


async def test_refactor_offers_the_dbt_state_equivalent(lsp_client: LanguageClient) -> None:
    root: Path = lsp_client.root  # type: ignore[attr-defined]
    uri = (root / "models/schema.yml").as_uri()
    lsp_client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="yaml", version=1, text=PROJECT["models/schema.yml"]
            )
        )
    )
    at = types.Position(line=4, character=8)  # on `freshness:`
    actions = await lsp_client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=at, end=at),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    titles = [a.title for a in actions or []]
    assert "Add the dbt State equivalent (state: {lag_tolerance: 1d, require_fresh_data_from: all})" in titles
