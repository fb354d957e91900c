"""The `engine` setting (spec dbt-v2-freshness.md MV14) through the protocol: changing it re-checks."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

PROJECT = {
    "dbt_project.yml": "name: demo\nversion: '1.0'\nprofile: demo\n",
    "models/m.sql": "select 1 as id\n",
    "models/schema.yml": (
        "version: 2\nmodels:\n  - name: m\n    config:\n      materialized: table\n"
        "      loaded_at_field: updated_at\n      freshness:\n        warn_after: {count: 24, period: hour}\n"
    ),
}


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "freshlens", "serve"]))
async def lsp_client(lsp_client: LanguageClient, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("proj")
    for rel, text in PROJECT.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)

    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def _register(params: types.RegistrationParams) -> None:  # a real client accepts registrations
        return None

    @lsp_client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def _refresh(params: None) -> None:
        return None

    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="demo")],
        )
    )
    lsp_client.root = root  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()
    shutil.rmtree(root, ignore_errors=True)


async def _codes(client: LanguageClient, uri: str, want: set[str]) -> None:
    for _ in range(200):
        d = client.diagnostics.get(uri)
        if d is not None and {str(x.code) for x in d} == want:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"wanted {want}, got {[x.code for x in client.diagnostics.get(uri) or []]}")


async def test_engine_setting_rechecks_model_sla_keys(lsp_client: LanguageClient) -> None:
    root: Path = lsp_client.root  # type: ignore[attr-defined]
    uri = (root / "models/schema.yml").as_uri()
    await _codes(lsp_client, uri, {"FL106"})  # no require-dbt-version: both engines
    lsp_client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"freshlens": {"engine": "v2"}})
    )
    await _codes(lsp_client, uri, set())  # dbt v2 reads warn_after as the model's SLA
    lsp_client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"freshlens": {"engine": "core"}})
    )
    await _codes(lsp_client, uri, {"FL106"})
