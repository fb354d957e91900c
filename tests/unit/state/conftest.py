from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from state_helpers import ARTIFACTS


@pytest.fixture
def artifacts() -> Path:
    return ARTIFACTS


@pytest.fixture(params=["sqlite", "postgres"])
def store_at(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    """A factory of empty state stores, once per backend: each call names a new store (an SQLite file
    in tmp_path, or a new database on the session's throwaway PostgreSQL cluster) and returns it as
    the ``--state`` value that opens it."""
    if request.param == "sqlite":
        return lambda name: str(tmp_path / f"{name}.db")
    pg_dsn: Callable[[], str] = request.getfixturevalue("pg_dsn")
    made: dict[str, str] = {}

    def make(name: str) -> str:
        if name not in made:
            made[name] = pg_dsn()
        return made[name]

    return make
