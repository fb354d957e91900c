"""Code lenses, the what-if setting, explain/plan commands and the status notification, end to end.

The project and its state are real: tests/fixtures/artifacts holds two runs of real dbt-core on
tiny_project (run 1 built everything; the project files are as of run 2, where stg_orders.sql changed).
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

ART = Path(__file__).resolve().parent.parent / "fixtures" / "artifacts"
RUN1_BUILD = "2026-11-25T13:42:18Z"  # stg_orders' execute completed_at in run1/run_results.json


def settings(at: str) -> dict[str, Any]:
    return {
        "state": str(ART / "run1"),
        "sources": str(ART / "run2" / "sources.json"),
        "regime": "sao",
        "at": at,
    }


@pytest_lsp.fixture(
    params=["visual-studio-code", "neovim"],
    config=ClientServerConfig(server_command=[sys.executable, "-m", "freshlens", "serve"]),
)
async def lsp_client(
    lsp_client: LanguageClient, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
):
    root = tmp_path_factory.mktemp("tiny")
    shutil.copytree(ART / "tiny_project", root, dirs_exist_ok=True)
    status: list[dict[str, Any]] = []
    refreshes: list[int] = []

    @lsp_client.feature("freshlens/status")
    def _status(params: Any) -> None:
        status.append(
            params
            if isinstance(params, dict)
            else dict(params._asdict())
            if hasattr(params, "_asdict")
            else vars(params)
        )

    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def _register(params: types.RegistrationParams) -> None:
        return None

    @lsp_client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def _refresh(params: None) -> None:
        refreshes.append(1)

    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(request.param),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="tiny")],
            initialization_options=settings(
                "2026-11-25T14:42:18.746556Z"
            ),  # exactly one hour after the build
        )
    )
    lsp_client.root = root  # type: ignore[attr-defined]
    lsp_client.status = status  # type: ignore[attr-defined]
    lsp_client.refreshes = refreshes  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


async def _lenses(client: LanguageClient, path: Path) -> list[types.CodeLens]:
    for _ in range(100):
        got = await client.text_document_code_lens_async(
            types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=path.as_uri()))
        )
        if got:
            return list(got)
        await asyncio.sleep(0.05)
    return []


async def test_lens_on_sql_and_yaml_and_what_if(lsp_client: LanguageClient) -> None:
    root: Path = lsp_client.root  # type: ignore[attr-defined]
    lenses = await _lenses(lsp_client, root / "models" / "stg_orders.sql")
    assert len(lenses) == 1
    lens = lenses[0]
    assert lens.range.start.line == 0
    assert lens.command is not None
    # code changed since run 1, but SAO's build_after (4h, set in sources.yml) gates code changes too (D9)
    assert lens.command.title == "Reuse · build_after 4h not met — eligible in 3h", lens.command.title
    assert lens.command.command == "freshlens.explain"
    assert list(lens.command.arguments or []) == ["model.tiny.stg_orders"]

    yaml_lenses = await _lenses(lsp_client, root / "models" / "sources.yml")
    titled = {lns.range.start.line: lns.command.title for lns in yaml_lenses if lns.command}
    name_line = (root / "models" / "sources.yml").read_text().splitlines().index("  - name: stg_orders")
    assert titled[name_line].startswith("Reuse · build_after 4h")

    # what if the run fired five hours after the build? The window has passed: build.
    lsp_client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"freshlens": settings("2026-11-25T18:42:18Z")})
    )
    for _ in range(100):
        lenses = await _lenses(lsp_client, root / "models" / "stg_orders.sql")
        if lenses[0].command and lenses[0].command.title.startswith("Build"):
            break
        await asyncio.sleep(0.05)
    assert lenses[0].command is not None
    assert lenses[0].command.title == "Build · code changed (SQL body)"


async def test_explain_plan_and_status(lsp_client: LanguageClient) -> None:
    res = await lsp_client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="freshlens.explain", arguments=["model.tiny.stg_orders"])
    )
    md = res["markdown"]
    assert "New changes detected. Did not meet build_after of 4h. Last updated 1h ago" in md
    assert "SAO D9" in md
    assert "sources.yml:18" in md  # the config line that set the window
    plan = await lsp_client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="freshlens.plan", arguments=[])
    )
    assert plan["regime"] == "sao"
    actions = {m["name"]: m["action"] for m in plan["models"]}
    assert actions["stg_orders"] == "reuse"
    status: list[dict[str, Any]] = lsp_client.status  # type: ignore[attr-defined]
    for _ in range(100):
        if status:
            break
        await asyncio.sleep(0.05)
    assert status, "no freshlens/status notification"
    last = status[-1]
    assert last["health"] == "ok"
    assert last["build"] + last["reuse"] + last["unknown"] + last["other"] == len(plan["models"])


async def test_hover_on_model_name_explains(lsp_client: LanguageClient) -> None:
    root: Path = lsp_client.root  # type: ignore[attr-defined]
    path = root / "models" / "sources.yml"
    lines = path.read_text().splitlines()
    line = lines.index("  - name: stg_orders")
    res = await lsp_client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=path.as_uri()),
            position=types.Position(line=line, character=lines[line].index("stg_orders") + 2),
        )
    )
    assert res is not None
    assert "Reuse: stg_orders" in res.contents.value  # type: ignore[union-attr]


async def _report(client: LanguageClient) -> dict[str, Any]:
    out: dict[str, Any] = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="freshlens.planReport", arguments=[])
    )
    return out


async def test_plan_report_has_rows_graph_and_follows_replans(lsp_client: LanguageClient) -> None:
    root: Path = lsp_client.root  # type: ignore[attr-defined]
    plan = await lsp_client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="freshlens.plan", arguments=[])
    )
    report = await _report(lsp_client)
    # the same decisions as the plan, with what the editor needs to open each model's file
    assert {r["id"]: r["action"] for r in report["rows"]} == {
        m["unique_id"]: m["action"] for m in plan["models"]
    }
    assert report["counts"] == plan["counts"]
    (proj,) = report["projects"]
    assert Path(proj["root"]) == root
    rows = {r["name"]: r for r in report["rows"]}
    assert (Path(proj["root"]) / rows["stg_orders"]["file"]).is_file()
    assert rows["stg_orders"]["window"] == "build_after 4h"
    names = [n["name"] for n in report["graph"]["nodes"]]
    assert "raw.orders" in names  # sources are in the graph, models' parents
    by_name = {n["name"]: i for i, n in enumerate(report["graph"]["nodes"])}
    assert [by_name["raw.orders"], by_name["stg_orders"], 0] in report["graph"]["edges"]  # reused: no flow
    # five hours after the build stg_orders builds; the report follows the re-plan
    status: list[dict[str, Any]] = lsp_client.status  # type: ignore[attr-defined]
    before = len(status)
    lsp_client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"freshlens": settings("2026-11-25T18:42:18Z")})
    )
    for _ in range(100):
        if len(status) > before:
            break
        await asyncio.sleep(0.05)
    assert len(status) > before, "no freshlens/status after the re-plan"
    report = await _report(lsp_client)
    rows = {r["name"]: r for r in report["rows"]}
    assert rows["stg_orders"]["action"] == "build"
    assert report["rows"][0]["action"] == "build"  # builds first
    assert report["summary"].startswith(f"The next run would rebuild {report['counts']['build']} of ")
