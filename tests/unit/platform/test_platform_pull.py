"""``freshlens state pull dbt-platform`` against a local Administrative API serving real dbt runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from platform_server import ACCOUNT, ENV, JOB, TOKEN, Fault, recorded_platform, serve_platform

from freshlens.cli import main
from freshlens.platform.client import PlatformClient, PlatformError, retry_after_seconds
from freshlens.platform.pull import PullTarget, pull_runs
from freshlens.state import StateStore


def _client(url: str, sleeps: list[float] | None = None, retries: int = 5) -> PlatformClient:
    c = PlatformClient(
        url, ACCOUNT, TOKEN, timeout=5, retries=retries, sleep=(sleeps if sleeps is not None else []).append
    )
    c.page_size = 2  # five runs: three pages
    return c


def _pull(url: str, store: StateStore, project: Path, **kw: object):  # type: ignore[no-untyped-def]
    sleeps: list[float] = []
    with _client(url, sleeps) as c:
        rep = pull_runs(c, PullTarget(url, ACCOUNT, job_id=str(JOB)), store, str(project), **kw)  # type: ignore[arg-type]
    return rep, sleeps


def _built_in(store: StateStore) -> dict[str, str | None]:
    return {
        uid: n.last_success_invocation_id
        for uid, n in store.snapshot().nodes.items()
        if n.resource_type == "model"
    }


def test_pull_ingests_finished_runs_oldest_first_and_remembers(tmp_path: Path) -> None:
    plat = recorded_platform()
    with serve_platform(plat), StateStore(tmp_path / "s.db") as store:
        rep, _ = _pull(plat.url, store, tmp_path)
        assert [r.run_id for r in rep.runs] == [101, 102, 103, 104]
        assert rep.last_run_id == 104
        assert any("105 has not finished" in s for s in rep.skipped)
        lists = [r for r in plat.requests if r.startswith(f"/api/v2/accounts/{ACCOUNT}/runs/?")]
        assert len(lists) == 3 and all("job_definition_id=7" in r and "order_by=-id" in r for r in lists)
        # Run 1 built everything; runs 2 and 3 rebuilt only what reads the orders (the rest reused).
        assert rep.runs[0].builds > rep.runs[1].builds > 0
        snap = store.snapshot()
        assert snap.last_run_source == f"dbt platform job {JOB}, run 103"
        built = _built_in(store)
        inv = {
            r.run_id: json.loads(plat.artifacts[(r.run_id, 5, "run_results.json")])["metadata"][
                "invocation_id"
            ]
            for r in rep.runs[:3]
        }
        assert built["model.jaffle_fresh.stg_customers"] == inv[101]  # reused since run 1
        assert built["model.jaffle_fresh.stg_orders"] == inv[103]  # new orders every run
        # The freshness step before the build counts as the same run: the build saw that reading.
        stg = snap.nodes["model.jaffle_fresh.stg_orders"]
        assert stg.sources_at_build["source.jaffle_fresh.jaffle.orders"] is not None
        notes = {r.run_id: " ".join(r.notes) for r in rep.runs}
        assert "no sources.json" in notes[103]
        assert "saved no artifacts" in notes[104]
        assert (
            "step 4/sources.json" in rep.runs[0].artifacts and "step 6/catalog.json" in rep.runs[0].artifacts
        )

        # The next pull is incremental: it lists only the newest page and ingests nothing.
        plat.requests.clear()
        again, _ = _pull(plat.url, store, tmp_path)
        assert again.runs == [] and again.last_run_id == 104
        assert not any("/artifacts/" in r for r in plat.requests)
        # --since re-pulls; ingest is idempotent, so nothing changes.
        redo, _ = _pull(plat.url, store, tmp_path, since=102)
        assert [r.run_id for r in redo.runs] == [103, 104] and sum(r.builds for r in redo.runs) == 0
        assert _built_in(store) == built


def test_first_pull_limit_and_environment(tmp_path: Path) -> None:
    plat = recorded_platform()
    with serve_platform(plat), StateStore(tmp_path / "s.db") as store, _client(plat.url) as c:
        rep = pull_runs(
            c, PullTarget(plat.url, ACCOUNT, environment_id=str(ENV)), store, str(tmp_path), limit=2
        )
        assert [r.run_id for r in rep.runs] == [103, 104]  # the newest two finished runs
        assert all("environment_id=9" in r for r in plat.requests if "/runs/?" in r)


def test_retries_honour_retry_after_and_recover_from_500(tmp_path: Path) -> None:
    plat = recorded_platform()
    plat.faults = [
        Fault("/runs/", 429, {"Retry-After": "7"}),
        Fault("/runs/102/artifacts/manifest.json", 500),
        Fault("/runs/102/artifacts/run_results.json", 503, times=2),
    ]
    with serve_platform(plat), StateStore(tmp_path / "s.db") as store:
        rep, sleeps = _pull(plat.url, store, tmp_path)
    assert [r.run_id for r in rep.runs] == [101, 102, 103, 104]
    assert sleeps[0] == 7.0  # the server's Retry-After, not our backoff
    assert sleeps[1:] == [0.5, 0.5, 1.0]  # exponential backoff per request


def test_retry_after_forms() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    assert retry_after_seconds("3", now) == 3.0
    assert retry_after_seconds("Tue, 01 Dec 2026 06:00:30 GMT", now) == 30.0
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None) is None


def test_interrupted_pull_keeps_finished_runs_and_the_next_pull_completes(tmp_path: Path) -> None:
    plat = recorded_platform()
    plat.faults = [Fault("/runs/102/artifacts/run_results.json", 502, times=-1)]
    with serve_platform(plat), StateStore(tmp_path / "s.db") as store:
        with pytest.raises(
            PlatformError,
            match=r"run_results.json of run 102 step 4 failed after 6 attempt\(s\) \(HTTP 502\)",
        ):
            _pull(plat.url, store, tmp_path)
        origins = {r[0] for r in store._db.execute("SELECT DISTINCT source_dir FROM ingested")}
        assert origins == {f"dbt platform job {JOB}, run 101"}  # exactly the run that finished
        plat.faults.clear()
        rep, _ = _pull(plat.url, store, tmp_path)
        assert [r.run_id for r in rep.runs] == [102, 103, 104]
        resumed = _built_in(store)
    with serve_platform(recorded_platform()) as fresh, StateStore(tmp_path / "t.db") as other:
        _pull(fresh.url, other, tmp_path / "other")
        assert _built_in(other) == resumed


def test_refused_token_is_clear_and_never_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plat = recorded_platform()
    with serve_platform(plat):
        monkeypatch.setenv("DBT_CLOUD_API_TOKEN", "wrong-" + TOKEN)
        args = [
            "state",
            "pull",
            "dbt-platform",
            "--account-id",
            ACCOUNT,
            "--job-id",
            str(JOB),
            "--host",
            plat.url,
            "--project",
            str(tmp_path),
        ]
        assert main(args) == 1
        out = capsys.readouterr()
        assert "not accepted (401)" in out.err and "DBT_CLOUD_API_TOKEN" in out.err
        assert TOKEN not in out.err + out.out
        monkeypatch.delenv("DBT_CLOUD_API_TOKEN")
        assert main(args) == 2
        assert "set DBT_CLOUD_API_TOKEN" in capsys.readouterr().err

        monkeypatch.setenv("DBT_CLOUD_API_TOKEN", TOKEN)
        assert main([*args[:4], "99", *args[5:]]) == 1  # another account: 404
        assert "not found (404)" in capsys.readouterr().err
        assert main([*args, "--format", "json"]) == 0
        out = capsys.readouterr()
        doc = json.loads(out.out)
        assert [r["run_id"] for r in doc["runs"]] == [101, 102, 103, 104] and doc["last_run_id"] == 104
        assert TOKEN not in out.out + out.err
        assert (tmp_path / ".freshlens" / "state.db").is_file()
        assert main(args) == 0
        assert "no new finished runs after run 104" in capsys.readouterr().out
