"""The editor's ``freshlens.state`` setting naming a PostgreSQL store: lenses from the team's history,
and "Clear state" clearing that database (the same project and runs as test_predictions.py)."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from freshlens.state import load_state, open_store

ART = Path(__file__).resolve().parent.parent / "fixtures" / "artifacts"


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "freshlens", "serve"]))
async def lsp_client(
    lsp_client: LanguageClient, tmp_path_factory: pytest.TempPathFactory, pg_dsn: Callable[[], str]
):
    root = tmp_path_factory.mktemp("tiny")
    shutil.copytree(ART / "tiny_project", root, dirs_exist_ok=True)
    url = pg_dsn()
    with open_store(url) as store:
        store.ingest(ART / "run1")

    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def _register(params: types.RegistrationParams) -> None:
        return None

    @lsp_client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def _refresh(params: None) -> None:
        return None

    @lsp_client.feature("freshlens/status")
    def _status(params: Any) -> None:
        return None

    settings = {
        "state": url,
        "sources": str(ART / "run2" / "sources.json"),
        "regime": "sao",
        "at": "2026-11-25T14:42:18.746556Z",  # an hour after run 1's build of stg_orders
    }
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="tiny")],
            initialization_options=settings,
        )
    )
    lsp_client.root = root  # type: ignore[attr-defined]
    lsp_client.url = url  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


async def _lens_title(client: LanguageClient, path: Path, prefix: str) -> str:
    title = ""
    for _ in range(200):
        got = await client.text_document_code_lens_async(
            types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=path.as_uri()))
        )
        title = got[0].command.title if got and got[0].command else ""
        if title.startswith(prefix):
            break
        await asyncio.sleep(0.05)
    return title


async def test_lenses_read_the_postgresql_store_and_clear_state_clears_it(lsp_client: LanguageClient) -> None:
    """The lens is what the same run gives from a file (test_predictions); Clear state forgets the
    builds in the shared database, and the lens follows (D15: the next run builds every model)."""
    root: Path = lsp_client.root  # type: ignore[attr-defined]
    url: str = lsp_client.url  # type: ignore[attr-defined]
    sql = root / "models" / "stg_orders.sql"
    assert await _lens_title(lsp_client, sql, "Reuse") == "Reuse · build_after 4h not met — eligible in 3h"
    await lsp_client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="freshlens.clearState", arguments=[])
    )
    snap = load_state(url)
    assert snap.cleared_at is not None and all(n.last_success_at is None for n in snap.nodes.values())
    title = await _lens_title(lsp_client, sql, "Build")
    assert title.startswith("Build · state cleared at"), title
