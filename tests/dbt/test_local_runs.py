"""Local dbt runs in the editor (issue 8): the status says when there is no state or when it is behind
the last dbt run in target/, and with ``ingestLocalRuns`` on the server ingests such a run itself.
Real dbt (``dbt seed`` on a copy of examples/jaffle_fresh) and the real server over stdio."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from dbtdiff import DBT, DBT_TIMEOUT_S, REPO, dbt_env
from lsprotocol import types
from plannerkit import MISSING_DBT
from pygls.lsp.client import LanguageClient

pytestmark = [pytest.mark.dbt, pytest.mark.skipif(not DBT.exists(), reason=MISSING_DBT)]

EXAMPLE = REPO / "examples" / "jaffle_fresh"


def _env() -> dict[str, str]:
    env = dbt_env()
    env["PYTHONPATH"] = str(REPO / "server")
    env.pop("VIRTUAL_ENV", None)
    return env


def dbt_seed(root: Path) -> None:
    subprocess.run(
        [str(DBT), "-q", "seed"], cwd=root, env=_env(), check=True, timeout=DBT_TIMEOUT_S, capture_output=True
    )


def _plain(o: Any) -> Any:
    """pygls hands custom notifications over as named tuples: plain dicts to compare."""
    if hasattr(o, "_asdict"):
        return {k: _plain(v) for k, v in o._asdict().items()}
    return o


class Editor:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.client = LanguageClient("local-runs-test", "1")
        self.status: list[dict[str, Any]] = []
        self.logs: list[str] = []
        c = self.client

        @c.feature("freshlens/status")
        def _status(params: Any) -> None:
            self.status.append(_plain(params))

        @c.feature(types.WINDOW_LOG_MESSAGE)
        def _log(params: types.LogMessageParams) -> None:
            self.logs.append(params.message)

        for method in (types.CLIENT_REGISTER_CAPABILITY, types.WORKSPACE_CODE_LENS_REFRESH):
            c.feature(method)(lambda params: None)

    async def start(self, settings: dict[str, Any]) -> None:
        await self.client.start_io(sys.executable, "-m", "freshlens", "serve", env=_env())
        await self.client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(),
                root_uri=self.root.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=self.root.as_uri(), name="jaffle")],
                initialization_options={"freshlens": settings},
            )
        )
        self.client.initialized(types.InitializedParams())

    def state(self) -> dict[str, Any]:
        return dict(self.status[-1]["state"])

    async def next_status(self, after: int, timeout: float = 60) -> dict[str, Any]:
        t0 = time.monotonic()
        while len(self.status) <= after:
            assert time.monotonic() - t0 < timeout, "no freshlens/status"
            await asyncio.sleep(0.05)
        return self.state()

    def run_finished(self) -> None:
        """What a watching client sends when dbt has written target/."""
        uris = [(self.root / "target" / n).as_uri() for n in ("manifest.json", "run_results.json")]
        self.client.workspace_did_change_watched_files(
            types.DidChangeWatchedFilesParams(
                changes=[types.FileEvent(uri=u, type=types.FileChangeType.Changed) for u in uris]
            )
        )

    async def stop(self) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()


def _runs(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return int(con.execute("select count(*) from ingested where kind = 'run_results'").fetchone()[0])
    finally:
        con.close()


@pytest.fixture
def jaffle(tmp_path: Path) -> Path:
    root = tmp_path / "jaffle_fresh"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "logs", ".freshlens", "*.duckdb*"))
    return root


async def test_status_says_missing_then_behind_and_ingesting_local_runs_is_opt_in(jaffle: Path) -> None:
    ed = Editor(jaffle)
    await ed.start({})
    try:
        st = await ed.next_status(0)
        assert st["missing"] is True and "no state yet" in st["message"]
        # a first run, ingested by hand: state, not behind
        dbt_seed(jaffle)
        ingest = subprocess.run(
            [sys.executable, "-m", "freshlens", "state", "ingest", "target"],
            cwd=jaffle,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert ingest.returncode == 0, ingest.stderr
        n = len(ed.status)
        ed.run_finished()
        st = await ed.next_status(n)
        assert st["missing"] is False and st["stale"] is False and st["age_s"] is not None
        # a later dbt run nobody ingested: the status says the state is behind it, and ingestion is off
        time.sleep(31)  # past the same-run margin (a run's file is written just after its generated_at)
        dbt_seed(jaffle)
        n = len(ed.status)
        ed.run_finished()
        st = await ed.next_status(n)
        assert st["stale"] is True and "ingestLocalRuns" in st["message"], st
        await asyncio.sleep(2)
        assert _runs(jaffle / ".freshlens" / "state.db") == 1  # off by default: not ingested
        # opted in: the next finished run is ingested by the server, and the state is current again
        ed.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"freshlens": {"ingestLocalRuns": True}})
        )
        n = len(ed.status)
        ed.run_finished()
        t0 = time.monotonic()
        while _runs(jaffle / ".freshlens" / "state.db") < 2:
            assert time.monotonic() - t0 < 60, f"the local run was not ingested: {ed.logs}"
            await asyncio.sleep(0.1)
        st = await ed.next_status(n)
        while st["stale"] and time.monotonic() - t0 < 60:
            await asyncio.sleep(0.1)
            st = ed.state()
        assert st["stale"] is False and st["missing"] is False
        assert any("local run ingested" in m for m in ed.logs)
        # the same run again (another event for the same files) is not a second run
        ed.run_finished()
        await asyncio.sleep(2.5)
        assert _runs(jaffle / ".freshlens" / "state.db") == 2
    finally:
        await ed.stop()
