"""Parse-time rendering seen from an editor: lenses say what the index could not see, the vars setting re-renders."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

FILES = {
    "dbt_project.yml": (
        "name: p\nversion: '1.0'\nprofile: p\nmodels:\n  p:\n    opt:\n"
        "      +enabled: \"{{ var('opt_on', false) | as_bool }}\"\n"
    ),
    "models/a.sql": "select 1 as id\n",
    "models/b.sql": "select * from {{ ref(var('upstream')) }}\n",
    "models/opt/o.sql": "select * from {{ ref('a') }}\n",
}


@pytest_lsp.fixture(
    params=["visual-studio-code", "neovim"],
    config=ClientServerConfig(server_command=[sys.executable, "-m", "freshlens", "serve"]),
)
async def lsp_client(
    lsp_client: LanguageClient, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
):
    root = tmp_path_factory.mktemp("render")
    for rel, text in FILES.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")

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
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="render")],
            initialization_options={"regime": "sao"},
        )
    )
    lsp_client.root = root  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


async def _lens_titles(client: LanguageClient, path: Path) -> list[str]:
    for _ in range(100):
        got = await client.text_document_code_lens_async(
            types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=path.as_uri()))
        )
        if got:
            return [lens.command.title for lens in got if lens.command is not None]
        await asyncio.sleep(0.1)
    return []


async def _codes(client: LanguageClient, path: Path, want: Any) -> list[str]:
    for _ in range(100):
        diags = client.diagnostics.get(path.as_uri())
        if diags is not None and want([str(d.code) for d in diags]):
            return [str(d.code) for d in diags]
        await asyncio.sleep(0.1)
    return [str(d.code) for d in client.diagnostics.get(path.as_uri()) or []]


@pytest.mark.asyncio
async def test_lens_says_dag_may_be_incomplete_and_disabled(lsp_client: LanguageClient) -> None:
    root: Path = lsp_client.root  # type: ignore[attr-defined]
    b = root / "models" / "b.sql"
    titles = await _lens_titles(lsp_client, b)
    assert titles and titles[0].endswith("DAG may be incomplete (FL012)"), titles
    assert "FL012" in await _codes(lsp_client, b, lambda c: "FL012" in c)
    titles = await _lens_titles(lsp_client, root / "models" / "opt" / "o.sql")
    assert titles and titles[0].startswith("Disabled"), titles
    hover = await lsp_client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=b.as_uri()),
            position=types.Position(line=0, character=0),
        )
    )
    assert hover is not None and "DAG may be incomplete" in str(hover.contents)


@pytest.mark.asyncio
async def test_vars_setting_re_renders(lsp_client: LanguageClient) -> None:
    root: Path = lsp_client.root  # type: ignore[attr-defined]
    b = root / "models" / "b.sql"
    assert "FL012" in await _codes(lsp_client, b, lambda c: "FL012" in c)
    lsp_client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"freshlens": {"regime": "sao", "vars": {"upstream": "a"}}}
        )
    )
    assert await _codes(lsp_client, b, lambda c: "FL012" not in c) == []
    titles = await _lens_titles(lsp_client, b)
    assert titles and "DAG may be incomplete" not in titles[0]
