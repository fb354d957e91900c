"""``freshlens state ingest URL``: runs from an artifact store (file:// and a real S3-compatible server)."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from freshlens.cli import main
from freshlens.state import ArtifactError, StateStore
from freshlens.state.remote import ingest_url

RUNS = Path(__file__).resolve().parents[2] / "fixtures" / "platform" / "runs"  # three real dbt runs


def _bucket_layout(dest: Path) -> Path:
    """The slim-CI layout: one folder per run under a prefix, named so that name order != run order."""
    for n, name in ((1, "run-c"), (2, "run-a"), (3, "run-b")):
        d = dest / name
        d.mkdir(parents=True)
        for f in (RUNS / str(n)).glob("step*/*.json.gz"):
            (d / f.name[:-3]).write_bytes(gzip.decompress(f.read_bytes()))
    return dest


def _last_builds(store: StateStore) -> dict[str, str | None]:
    return {
        u: n.last_success_invocation_id
        for u, n in store.snapshot().nodes.items()
        if n.resource_type == "model"
    }


def _reference(tmp_path: Path, prefix: Path) -> dict[str, str | None]:
    with StateStore(tmp_path / "ref.db") as ref:
        for name in ("run-c", "run-a", "run-b"):  # the true order
            ref.ingest(prefix / name)
        return _last_builds(ref)


def test_file_url_prefix_ingests_runs_by_generated_at_incrementally(tmp_path: Path) -> None:
    prefix = _bucket_layout(tmp_path / "bucket" / "prod")
    with StateStore(tmp_path / "s.db") as store:
        reps = ingest_url(store, f"file://{prefix}")
        assert [r.directory for r in reps] == [f"file://{prefix}/{n}" for n in ("run-c", "run-a", "run-b")]
        assert _last_builds(store) == _reference(tmp_path, prefix)
        assert store.snapshot().last_run_source == f"file://{prefix}/run-b"
        again = ingest_url(store, f"file://{prefix}/")
        assert all("already ingested" in r.summary() for r in again)
        one = ingest_url(store, f"file://{prefix}/run-a")  # a single run's folder
        assert [r.directory for r in one] == [f"file://{prefix}/run-a"]


def test_bad_urls_are_clear(tmp_path: Path) -> None:
    with StateStore(tmp_path / "s.db") as store:
        with pytest.raises(ArtifactError, match="nothing there"):
            ingest_url(store, f"file://{tmp_path}/missing")
        (tmp_path / "empty").mkdir()
        with pytest.raises(ArtifactError, match="no dbt artifacts here"):
            ingest_url(store, f"file://{tmp_path}/empty")
        with pytest.raises(ArtifactError, match=r"pip install 'freshlens\[azure\]'"):
            ingest_url(store, "az://container/runs")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    moto = Path(sys.executable).parent / "moto_server"
    if not moto.exists():
        pytest.fail("moto_server missing: run scripts/setup.sh (it installs freshlens[dev])")
    port = _free_port()
    proc = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.head(url, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_s3_prefix_on_a_real_s3_server(
    tmp_path: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    for k, v in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_endpoint,
    }.items():
        monkeypatch.setenv(k, v)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.create_bucket(Bucket="artifacts")
    prefix = _bucket_layout(tmp_path / "local")
    for f in prefix.rglob("*.json"):
        s3.upload_file(str(f), "artifacts", f"dbt/prod/{f.relative_to(prefix)}")
    state = tmp_path / "s.db"
    assert main(["state", "ingest", "s3://artifacts/dbt/prod", "--state", str(state)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split(":")[0] + ":" + ln.split(":")[1] for ln in lines] == [
        f"s3://artifacts/dbt/prod/{n}" for n in ("run-c", "run-a", "run-b")
    ]
    with StateStore(state) as store:
        assert _last_builds(store) == _reference(tmp_path, prefix)
    # A new run lands in the bucket: the next ingest downloads only that one.
    # (a later freshness check: run 2's sources.json as a new invocation, an hour later)
    doc = json.loads((prefix / "run-a" / "sources.json").read_text())
    doc["metadata"]["invocation_id"] = "later-freshness-check"
    doc["metadata"]["generated_at"] = "2099-01-01T00:00:00Z"
    s3.put_object(Bucket="artifacts", Key="dbt/prod/run-d/sources.json", Body=json.dumps(doc).encode())
    assert main(["state", "ingest", "s3://artifacts/dbt/prod/", "--state", str(state)]) == 0
    out = capsys.readouterr().out
    assert out.count("already ingested") == 3 and "s3://artifacts/dbt/prod/run-d: " in out
    assert main(["state", "ingest", "s3://artifacts/nope", "--state", str(state)]) == 1
    assert "nothing there" in capsys.readouterr().err
    assert os.environ["AWS_ENDPOINT_URL"] == s3_endpoint
