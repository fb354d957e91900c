"""Ingest runs from an artifact store: ``s3://``, ``gs://``, ``az://`` or ``file://`` URLs, through fsspec.

A URL names either one run's folder (it holds ``manifest.json`` / ``run_results.json`` / ``sources.json``
/ ``catalog.json``) or a prefix with one folder per run (the usual slim-CI layout, e.g.
``s3://bucket/dbt/prod/run-2026-12-01T06/``). New runs are downloaded, ordered by their artifacts'
``generated_at`` and ingested oldest first, each recorded with its URL as origin; runs already in the
store (by that URL) are not downloaded again. Credentials come from each filesystem's usual chain
(AWS environment/profile/instance role, Google application default credentials, Azure environment).
The cloud filesystems are optional extras: ``freshlens[s3]``, ``freshlens[gcs]``, ``freshlens[azure]``.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from freshlens.state.artifacts import ArtifactError, parse_timestamp
from freshlens.state.store import IngestReport, StateStore

ARTIFACT_NAMES = ("manifest.json", "run_results.json", "sources.json", "freshness.json", "catalog.json")
# The file whose generated_at dates a run, best first (run_results is written when the build ends).
_DATING = ("run_results.json", "sources.json", "freshness.json", "manifest.json", "catalog.json")
EXTRAS = {
    "s3": "s3",
    "s3a": "s3",
    "gs": "gcs",
    "gcs": "gcs",
    "az": "azure",
    "abfs": "azure",
    "abfss": "azure",
}


@dataclass(slots=True)
class RemoteRun:
    url: str
    files: dict[str, str]  # artifact name -> path in the filesystem


def _filesystem(url: str) -> tuple[Any, str]:
    import fsspec  # type: ignore[import-untyped]

    scheme = url.split("://", 1)[0].lower()
    try:
        fs, root = fsspec.core.url_to_fs(url)
    except ImportError:
        extra = EXTRAS.get(scheme, scheme)
        raise ArtifactError(
            f"{url}: reading {scheme}:// needs an optional part of freshlens: pip install 'freshlens[{extra}]'"
        ) from None
    except ValueError as exc:
        raise ArtifactError(
            f"{url}: not a URL freshlens can read ({exc}); use s3://, gs://, az:// or file://"
        ) from None
    return fs, str(root)


def find_runs(url: str) -> tuple[Any, list[RemoteRun]]:
    """The run folders at ``url``: the folder itself if it holds artifacts, else its sub-folders that do."""
    fs, root = _filesystem(url)
    scheme = url.split("://", 1)[0]
    fs.invalidate_cache()  # fsspec keeps listings per process: a new run in the bucket must show up
    try:
        entries = fs.ls(root, detail=True)
    except FileNotFoundError:
        raise ArtifactError(
            f"{url}: nothing there. Check the bucket and prefix (and your credentials)."
        ) from None
    except PermissionError:
        raise ArtifactError(
            f"{url}: access denied. Check the credentials the provider chain finds."
        ) from None

    def base(path: str) -> str:
        return path.rstrip("/").rsplit("/", 1)[-1]

    here = {
        base(e["name"]): e["name"]
        for e in entries
        if e.get("type") == "file" and base(e["name"]) in ARTIFACT_NAMES
    }
    if here:
        return fs, [RemoteRun(url.rstrip("/"), here)]
    runs = []
    for e in sorted(entries, key=lambda e: str(e["name"])):
        if e.get("type") != "directory":
            continue
        files = {base(f): f for f in fs.ls(e["name"], detail=False) if base(f) in ARTIFACT_NAMES}
        if files:
            runs.append(RemoteRun(f"{scheme}://{str(e['name']).rstrip('/')}", files))
    if not runs:
        raise ArtifactError(
            f"{url}: no dbt artifacts here or in its sub-folders. Point at a run's folder (with manifest.json "
            "and run_results.json) or at the prefix holding one folder per run."
        )
    return fs, runs


def _generated_at(folder: Path) -> datetime:
    for name in _DATING:
        p = folder / name
        if p.is_file():
            try:
                meta = json.loads(p.read_bytes()).get("metadata") or {}
                return parse_timestamp(str(meta["generated_at"]))
            except (ValueError, KeyError, AttributeError, TypeError):
                continue
    raise ArtifactError(f"{folder.name}: no artifact with a readable metadata.generated_at")


def ingest_url(store: StateStore, url: str) -> list[IngestReport]:
    """Ingest the new runs at ``url`` oldest first (by ``generated_at``); see the module docs."""
    fs, runs = find_runs(url)
    known = store.origins()
    new = [r for r in runs if r.url not in known]
    reports = [IngestReport(directory=r.url) for r in runs if r.url in known]
    with tempfile.TemporaryDirectory(prefix="freshlens-runs-") as tmp:
        fetched: list[tuple[datetime, RemoteRun, Path]] = []
        for i, run in enumerate(new):
            d = Path(tmp) / str(i)
            d.mkdir()
            for name, path in run.files.items():
                fs.get_file(path, str(d / name))
            fetched.append((_generated_at(d), run, d))
        for _, run, d in sorted(fetched, key=lambda t: t[0]):
            reports.append(store.ingest(d, origin=run.url))
    return reports
