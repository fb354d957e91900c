"""Warm start through the real server over stdio (issue 11): a restart publishes the last check's
diagnostics before indexing, and the index built behind them corrects a cache that were wrong."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pytest_lsp import client_capabilities

from freshlens import warmstart

PROJECT = {
    "dbt_project.yml": "name: demo\nversion: '1.0'\nprofile: demo\n",
    "models/a.sql": "{{ config(freshness={'build_after': {'count': 2, 'period': 'week'}}) }}\nselect 1 -- é\n",
    "models/b.sql": "select 'é', * from {{ ref('a') }} join {{ ref('nope') }}\n",
}


def _write(root: Path) -> None:
    t = time.time() - 60  # older than the racy window of the first check
    for rel, text in PROJECT.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        os.utime(p, (t, t))


async def _session(root: Path, settle: float = 1.0) -> tuple[list[tuple[str, list[Any]]], dict[str, Any]]:
    """Start the server on ``root``; every publishDiagnostics in order, and the last per file."""
    client = LanguageClient("warm-start-test", "1")
    seen: list[tuple[str, list[Any]]] = []
    last: dict[str, Any] = {}

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def _diags(params: types.PublishDiagnosticsParams) -> None:
        seen.append((params.uri, params.diagnostics))
        last[params.uri] = params.diagnostics

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def _register(params: types.RegistrationParams) -> None:
        return None

    @client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def _refresh(params: None) -> None:
        return None

    @client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
    def _progress(params: types.WorkDoneProgressCreateParams) -> None:
        return None

    await client.start_io(sys.executable, "-m", "freshlens", "serve")
    await client.initialize_async(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="demo")],
        )
    )
    client.initialized(types.InitializedParams())
    # the index is ready once a request that needs it is answered; then let publishing settle
    lens = types.CodeLensParams(
        text_document=types.TextDocumentIdentifier(uri=(root / "models/a.sql").as_uri())
    )
    await asyncio.wait_for(client.text_document_code_lens_async(lens), timeout=60)
    await asyncio.sleep(settle)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return seen, dict(last)


def _plain(diags: dict[str, Any]) -> dict[str, list[tuple[Any, ...]]]:
    return {
        uri: sorted(
            (d.code, d.range.start.line, d.range.start.character, d.range.end.character, d.message)
            for d in ds
        )
        for uri, ds in diags.items()
        if ds
    }


async def test_a_restart_publishes_the_cached_diagnostics_then_the_same_from_the_index(
    tmp_path: Path,
) -> None:
    _write(tmp_path)
    cold_seen, cold = await _session(tmp_path)
    assert (tmp_path / ".freshlens/cache" / warmstart.FILE_NAME).is_file()
    codes = {d.code for ds in cold.values() for d in ds}
    assert {"FL003", "FL102"} <= codes
    warm_seen, warm = await _session(tmp_path)
    assert _plain(warm) == _plain(cold)
    # warm: every file's diagnostics came twice, from the cache before indexing and after it (the same)
    b = (tmp_path / "models/b.sql").as_uri()
    assert [len(ds) for uri, ds in warm_seen if uri == b] == [1, 1]
    assert [len(ds) for uri, ds in cold_seen if uri == b] == [1]
    # the columns of the cached diagnostics are in the client's units (UTF-16 here), as the index's
    first_b = next(ds for uri, ds in warm_seen if uri == b)
    assert first_b[0].range == cold[b][0].range


async def test_a_wrong_cache_is_corrected_by_the_index_built_behind_it(tmp_path: Path) -> None:
    _write(tmp_path)
    _, cold = await _session(tmp_path)
    path = tmp_path / ".freshlens/cache" / warmstart.FILE_NAME
    data = json.loads(path.read_text())
    fake = ["FL004", 1, "a finding no check would make", ["models/a.sql", 1, 0, 1, 6], "GEN", [], []]
    data["findings"].append(fake)
    path.write_text(json.dumps(data))
    seen, last = await _session(tmp_path)
    a = (tmp_path / "models/a.sql").as_uri()
    assert any(d.code == "FL004" for uri, ds in seen if uri == a for d in ds)  # published from the cache
    assert _plain(last) == _plain(cold)  # and withdrawn once the index was built
