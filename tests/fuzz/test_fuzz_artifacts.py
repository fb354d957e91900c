"""Fuzzing the artifact readers and the state ingest (issue 12).

Property: a mutated manifest.json / run_results.json / sources.json / catalog.json is either read or
refused with ArtifactError (a message naming the file), within fuzzkit.BOUND_S; ingesting a folder of
them into a real SQLite store either succeeds or raises a StateError and leaves the store as it was.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fuzzkit import ARTIFACT_NAMES, bounded, mutated_json
from hypothesis import given
from hypothesis import strategies as st

from freshlens.state.artifacts import (
    ArtifactError,
    StateError,
    read_catalog,
    read_manifest,
    read_run_results,
    read_sources,
)
from freshlens.state.store import StateStore

READERS: dict[str, Callable[[Path], Any]] = {
    "manifest.json": read_manifest,
    "run_results.json": read_run_results,
    "sources.json": read_sources,
    "catalog.json": read_catalog,
}


@st.composite
def artifact(draw: Callable[..., Any]) -> tuple[str, bytes]:
    name = draw(st.sampled_from(ARTIFACT_NAMES))
    return name, draw(mutated_json(name))


@given(artifact())
def test_artifact_readers_raise_only_artifact_error(case: tuple[str, bytes]) -> None:
    name, data = case
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / name
        path.write_bytes(data)
        try:
            bounded(lambda: READERS[name](path))
        except ArtifactError as exc:
            assert str(path) in str(exc), exc


@st.composite
def run_folder(draw: Callable[..., Any]) -> dict[str, bytes]:
    """Some of the four artifacts, each a mutated real one (most runs keep manifest + run_results)."""
    names = draw(st.lists(st.sampled_from(ARTIFACT_NAMES), min_size=1, max_size=4, unique=True))
    if draw(st.booleans()):
        names = sorted({*names, "manifest.json", "run_results.json"})
    return {n: draw(mutated_json(n)) for n in names}


def _counts(store: StateStore) -> dict[str, int]:
    db = store._db
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


@given(st.lists(run_folder(), min_size=1, max_size=3))
def test_state_ingest_of_mutated_runs(runs: list[dict[str, bytes]]) -> None:
    """Each run is ingested or refused with a StateError; a refused run changes nothing in the store."""
    with tempfile.TemporaryDirectory() as d, StateStore(Path(d) / "state.db") as store:
        for i, files in enumerate(runs):
            folder = Path(d) / f"run{i}"
            folder.mkdir()
            for name, data in files.items():
                (folder / name).write_bytes(data)
            before = _counts(store)
            try:
                bounded(lambda folder=folder: store.ingest(folder))  # type: ignore[misc]
            except StateError as exc:
                assert str(exc).strip()
                assert _counts(store) == before, f"a refused run changed the store: {exc}"
