from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def write_project(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def project(tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(files: dict[str, str]) -> Path:
        return write_project(tmp_path, files)

    return make


os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

# The throwaway PostgreSQL cluster (pg_cluster, pg_dsn): see tests/pgcluster.py.
from pgcluster import pg_cluster, pg_dsn  # noqa: E402, F401
