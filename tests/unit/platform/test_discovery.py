"""Current source freshness from the dbt platform's Discovery API (issue 8), against a local server that
answers the documented GraphQL shape with the freshness of real recorded dbt runs, with faults."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from platform_server import ENV, TOKEN, Fault, applied_sources, recorded_platform, serve_platform

from freshlens.platform.client import PlatformError
from freshlens.platform.discovery import (
    DiscoveryClient,
    NotConfigured,
    discovery_from_env,
    freshness_now,
    metadata_url,
    write_sources_json,
)
from freshlens.state.freshness import MEASURED, UNKNOWN, current_freshness_from_file

REPO = Path(__file__).resolve().parents[3]


def _client(url: str, sleeps: list[float]) -> DiscoveryClient:
    return DiscoveryClient(f"{url}/graphql", TOKEN, timeout=5, sleep=sleeps.append)


def test_the_metadata_url_follows_the_access_url() -> None:
    assert metadata_url("https://cloud.getdbt.com") == "https://metadata.cloud.getdbt.com/graphql"
    assert metadata_url("ab123.us1.dbt.com") == "https://ab123.metadata.us1.dbt.com/graphql"
    assert metadata_url("https://emea.dbt.com") == "https://metadata.emea.dbt.com/graphql"


def test_sources_are_read_page_by_page_with_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    plat = recorded_platform()
    plat.faults = [Fault("/graphql", 429, {"Retry-After": "2"}), Fault("/graphql", 502)]
    monkeypatch.setattr("freshlens.platform.discovery.PAGE", 3)  # four sources: two pages
    sleeps: list[float] = []
    with serve_platform(plat) as p, _client(p.url, sleeps) as c:
        nodes = c.sources(str(ENV))
    assert [n["uniqueId"] for n in nodes] == [n["uniqueId"] for n in applied_sources(plat)]
    assert [b["variables"]["after"] for b in plat.graphql] == [None, "3"]  # the cursor of page 1
    assert sleeps == [2.0, 1.0]  # Retry-After honoured, then backoff
    got = freshness_now(nodes)
    orders = got["source.jaffle_fresh.jaffle.orders"]
    assert orders.status == MEASURED and orders.max_loaded_at is not None
    unmeasured = [uid for uid, f in got.items() if f.status == UNKNOWN]
    assert all("treated as updated" in got[u].note for u in unmeasured)


def test_refusals_and_graphql_errors_say_what_to_check() -> None:
    plat = recorded_platform()
    with serve_platform(plat) as p:
        wrong = DiscoveryClient(f"{p.url}/graphql", "wrong", timeout=5)
        with wrong, pytest.raises(PlatformError, match=r"refused \(401\).*Metadata Only") as e:
            wrong.sources(str(ENV))
        assert "wrong" not in str(e.value) and TOKEN not in str(e.value)
        with (
            _client(p.url, []) as c,
            pytest.raises(PlatformError, match=r"Environment 999 not found.*--environment-id"),
        ):
            c.sources("999")
        plat.faults = [Fault("/graphql", 500, times=-1)]
        failed = r"failed after 6 attempt\(s\).*previous current freshness is kept"
        with _client(p.url, []) as c, pytest.raises(PlatformError, match=failed):
            c.sources(str(ENV))


def test_configuration_comes_from_the_environment_never_the_command_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DBT_CLOUD_API_TOKEN", raising=False)
    with pytest.raises(NotConfigured, match="DBT_CLOUD_API_TOKEN"):
        discovery_from_env("9")
    monkeypatch.setenv("DBT_CLOUD_API_TOKEN", TOKEN)
    monkeypatch.delenv("DBT_CLOUD_ENVIRONMENT_ID", raising=False)
    with pytest.raises(NotConfigured, match="--environment-id or set DBT_CLOUD_ENVIRONMENT_ID"):
        discovery_from_env()
    monkeypatch.setenv("DBT_CLOUD_ENVIRONMENT_ID", "9")
    monkeypatch.setenv("DBT_CLOUD_HOST", "https://ab1.us1.dbt.com")
    env_id, c = discovery_from_env()
    c.close()
    assert (env_id, c.url) == ("9", "https://ab1.metadata.us1.dbt.com/graphql")


def test_the_written_sources_json_is_read_back_as_current_freshness(tmp_path: Path) -> None:
    nodes = applied_sources(recorded_platform())
    out = tmp_path / "current" / "sources.json"
    measured = write_sources_json(nodes, str(out), str(ENV))
    back = current_freshness_from_file(out, [n["uniqueId"] for n in nodes])
    want = freshness_now(nodes)
    assert measured == sum(1 for f in want.values() if f.status == MEASURED)
    for uid, f in want.items():
        assert back[uid].max_loaded_at == f.max_loaded_at, uid


def _freshlens(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "freshlens", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_pull_writes_current_freshness_and_plan_reads_the_api_directly(tmp_path: Path) -> None:
    import os

    root = tmp_path / "jaffle_fresh"
    shutil.copytree(
        REPO / "examples" / "jaffle_fresh",
        root,
        ignore=shutil.ignore_patterns("target", ".freshlens", "*.duckdb*"),
    )
    plat = recorded_platform()
    with serve_platform(plat) as p:
        env = {**os.environ, "DBT_CLOUD_API_TOKEN": TOKEN, "DBT_CLOUD_METADATA_URL": f"{p.url}/graphql"}
        done = _freshlens(
            ["freshness", "pull", "dbt-platform", "--environment-id", str(ENV), "--format", "json"], root, env
        )
        assert done.returncode == 0, done.stderr
        doc = json.loads(done.stdout)
        assert doc["written"] == ".freshlens/current/sources.json" and doc["sources"] == 4
        assert TOKEN not in done.stdout + done.stderr
        plan = _freshlens(["plan", ".", "--format", "json"], root, env)
        assert json.loads(plan.stdout)["freshness"] == ".freshlens/current/sources.json"
        direct = _freshlens(
            ["plan", ".", "--sources", "dbt-platform", "--format", "json"],
            root,
            {**env, "DBT_CLOUD_ENVIRONMENT_ID": str(ENV)},
        )
        assert json.loads(direct.stdout)["freshness"] == f"dbt platform environment {ENV} (Discovery API)"
        missing = _freshlens(
            ["freshness", "pull", "dbt-platform"], root, {**env, "DBT_CLOUD_ENVIRONMENT_ID": ""}
        )
        assert missing.returncode == 2 and "DBT_CLOUD_ENVIRONMENT_ID" in missing.stderr


def test_a_plan_asks_once_per_period_and_keeps_a_failure_like_an_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The editor re-plans every minute on its event loop: an unreachable API costs one short try (and
    one retry) per 5-minute period, not one per plan."""
    from freshlens.planner.gather import _CACHE, PlanOptions, run_plan
    from freshlens.workspace import Workspace

    root = tmp_path / "jaffle_fresh"
    shutil.copytree(
        REPO / "examples" / "jaffle_fresh",
        root,
        ignore=shutil.ignore_patterns("target", ".freshlens", "*.duckdb*"),
    )
    ws = Workspace([str(root)], render_cache=False)
    ws.load()
    idx = next(iter(ws.projects.values())).index
    assert idx is not None
    plat = recorded_platform()
    plat.faults = [Fault("/graphql", 500, times=-1)]
    _CACHE.clear()
    with serve_platform(plat) as p:
        monkeypatch.setenv("DBT_CLOUD_API_TOKEN", TOKEN)
        monkeypatch.setenv("DBT_CLOUD_ENVIRONMENT_ID", str(ENV))
        monkeypatch.setenv("DBT_CLOUD_METADATA_URL", f"{p.url}/graphql")
        for _ in range(3):
            res = run_plan(idx, PlanOptions(sources="dbt-platform"), {})
            assert any("failed after 2 attempt(s)" in m for m in res.problems), res.problems
        assert len(plat.requests) == 2
        plat.faults = []
        _CACHE.clear()  # the next period
        res = run_plan(idx, PlanOptions(sources="dbt-platform"), {})
        assert res.freshness_origin == f"dbt platform environment {ENV} (Discovery API)"
    _CACHE.clear()
