"""``freshlens freshness refresh`` and the editor's "Refresh source freshness" on real dbt (issue 8).

A copy of ``examples/jaffle_fresh`` with its raw data loaded into DuckDB: the user's own
``dbt source freshness`` measures the sources, freshlens keeps ``sources.json`` in
``.freshlens/current/`` where the plan reads it; a failure (an unknown target) keeps the previous
file and says what dbt said; the editor's command reports progress, can be cancelled (dbt is
stopped, the previous file stays) and re-plans.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from dbtdiff import DBT, DBT_TIMEOUT_S, REPO, dbt_env
from lsprotocol import types
from plannerkit import DBT_PY, MISSING_DBT
from pygls.lsp.client import LanguageClient

pytestmark = [pytest.mark.dbt, pytest.mark.skipif(not DBT.exists(), reason=MISSING_DBT)]

EXAMPLE = REPO / "examples" / "jaffle_fresh"
CURRENT = Path(".freshlens") / "current" / "sources.json"


def _env() -> dict[str, str]:
    env = dbt_env()
    env["PYTHONPATH"] = str(REPO / "server")
    env.pop("VIRTUAL_ENV", None)
    return env


def freshlens(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "freshlens", *args],
        cwd=root,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=DBT_TIMEOUT_S,
        check=False,
    )


@pytest.fixture(scope="module")
def jaffle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("refresh") / "jaffle_fresh"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "logs", ".freshlens", "*.duckdb*"))
    subprocess.run(
        [str(DBT_PY), str(REPO / "scripts" / "demo-data.py"), "--db", str(root / "jaffle_fresh.duckdb")],
        cwd=root,
        env=_env(),
        check=True,
        capture_output=True,
        timeout=DBT_TIMEOUT_S,
    )
    return root


def test_refresh_measures_with_the_users_dbt_and_the_plan_reads_it(jaffle: Path) -> None:
    done = freshlens(jaffle, "freshness", "refresh", ".", "--dbt", str(DBT), "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["engine"] == "dbt-core" and doc["command"][1:3] == ["source", "freshness"]
    assert doc["written"] == [str(CURRENT)]
    assert sum(doc["statuses"].values()) >= 3  # the example's sources with a freshness config
    current = json.loads((jaffle / CURRENT).read_text())
    assert {r["unique_id"] for r in current["results"]} >= {"source.jaffle_fresh.jaffle.orders"}
    log = (jaffle / doc["log"]).read_text()
    assert "source freshness" in log.splitlines()[0] and "Done." in log
    plan = freshlens(jaffle, "plan", ".", "--format", "json")
    assert plan.returncode in (0, 1), plan.stderr
    assert ".freshlens/current/sources.json" in json.loads(plan.stdout)["freshness"]


def test_a_failed_refresh_keeps_the_previous_freshness_and_says_why(jaffle: Path) -> None:
    if not (jaffle / CURRENT).exists():
        assert freshlens(jaffle, "freshness", "refresh", ".", "--dbt", str(DBT)).returncode == 0
    before = (jaffle / CURRENT).read_bytes()
    done = freshlens(jaffle, "freshness", "refresh", ".", "--dbt", str(DBT), "--target", "nope")
    assert done.returncode == 2
    assert "does not have a target named 'nope'" in done.stderr  # dbt's words, in our message
    assert "the previous freshness is kept" in done.stderr
    assert (jaffle / CURRENT).read_bytes() == before
    # DBT_ARGS after `--` reach dbt the same way
    done = freshlens(jaffle, "freshness", "refresh", ".", "--dbt", str(DBT), "--", "--target", "nope")
    assert done.returncode == 2 and (jaffle / CURRENT).read_bytes() == before


def test_no_dbt_is_a_clear_error(jaffle: Path, tmp_path: Path) -> None:
    done = freshlens(jaffle, "freshness", "refresh", ".", "--dbt", str(tmp_path / "nothing"))
    assert done.returncode == 2 and "no executable dbt there" in done.stderr


# -- the editor's command ---------------------------------------------------------------------------


class Editor:
    def __init__(self) -> None:
        self.client = LanguageClient("freshness-test", "1")
        self.progress: list[Any] = []
        self.messages: list[str] = []
        c = self.client

        @c.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def _create(params: types.WorkDoneProgressCreateParams) -> None:
            return None

        @c.feature(types.PROGRESS)
        def _progress(params: types.ProgressParams) -> None:
            self.progress.append(params)

        @c.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
        def _ask(params: types.ShowMessageRequestParams) -> None:
            self.messages.append(params.message)
            return None

        for method in (types.CLIENT_REGISTER_CAPABILITY, types.WORKSPACE_CODE_LENS_REFRESH):
            c.feature(method)(lambda params: None)

    async def start(self, root: Path, settings: dict[str, Any]) -> None:
        await self.client.start_io(sys.executable, "-m", "freshlens", "serve", env=_env())
        await self.client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(
                    window=types.WindowClientCapabilities(work_done_progress=True)
                ),
                root_uri=root.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="jaffle")],
                initialization_options={"freshlens": settings},
            )
        )
        self.client.initialized(types.InitializedParams())

    async def command(self, *args: Any) -> Any:
        return await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="freshlens.refreshFreshness", arguments=list(args))
        )

    async def stop(self) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()


def _title(p: Any) -> str:
    v = p.value
    return str(v.get("title", "") if isinstance(v, dict) else getattr(v, "title", "") or "")


def _kinds(progress: list[Any]) -> list[str]:
    return [
        getattr(p.value, "kind", "") if not isinstance(p.value, dict) else p.value.get("kind")
        for p in progress
    ]


async def test_the_editor_command_refreshes_with_progress_and_replans(jaffle: Path) -> None:
    ed = Editor()
    await ed.start(jaffle, {"freshness": {"dbt": str(DBT)}})
    try:
        (jaffle / CURRENT).unlink(missing_ok=True)
        got = await asyncio.wait_for(ed.command((jaffle / "models").as_uri()), timeout=DBT_TIMEOUT_S)
        (res,) = got["projects"] if isinstance(got, dict) else got.projects
        assert res["exit_code"] in (0, 1) and res["written"] == [str(CURRENT)], res
        assert (jaffle / CURRENT).is_file()
        tokens = {p.token for p in ed.progress if "source freshness" in _title(p)}
        kinds = _kinds([p for p in ed.progress if p.token in tokens])
        assert kinds[0] == "begin" and kinds[-1] == "end" and "report" in kinds  # dbt's lines as it runs
        # a failing refresh: the error comes back, and the user is offered dbt's log
        ed.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(
                settings={"freshlens": {"freshness": {"dbt": str(DBT), "dbtArgs": ["--target", "nope"]}}}
            )
        )
        before = (jaffle / CURRENT).read_bytes()
        got = await asyncio.wait_for(ed.command(), timeout=DBT_TIMEOUT_S)
        (res,) = got["projects"] if isinstance(got, dict) else got.projects
        assert "target named 'nope'" in res["error"]
        assert (jaffle / CURRENT).read_bytes() == before
        for _ in range(50):
            if ed.messages:
                break
            await asyncio.sleep(0.1)
        assert ed.messages and "was not refreshed" in ed.messages[0]
    finally:
        await ed.stop()


async def test_cancelling_the_progress_stops_dbt_and_keeps_the_previous_freshness(jaffle: Path) -> None:
    if not (jaffle / CURRENT).exists():
        assert freshlens(jaffle, "freshness", "refresh", ".", "--dbt", str(DBT)).returncode == 0
    before = (jaffle / CURRENT).read_bytes()
    mtime = os.stat(jaffle / CURRENT).st_mtime_ns
    ed = Editor()
    await ed.start(jaffle, {"freshness": {"dbt": str(DBT)}})
    try:
        call = asyncio.ensure_future(ed.command())
        t0 = time.monotonic()
        token = None
        while token is None:
            assert time.monotonic() - t0 < 60, "no progress began"
            await asyncio.sleep(0.05)
            token = next((p.token for p in ed.progress if "source freshness" in _title(p)), None)
        ed.client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
        got = await asyncio.wait_for(call, timeout=60)
        (res,) = got["projects"] if isinstance(got, dict) else got.projects
        assert res["cancelled"] is True, res
        assert (jaffle / CURRENT).read_bytes() == before and os.stat(jaffle / CURRENT).st_mtime_ns == mtime
        log = (jaffle / res["log"]).read_text()
        assert "# cancelled" in log
    finally:
        await ed.stop()
