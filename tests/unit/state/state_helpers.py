"""Helpers shared by the state tests (a plain module: importing from conftest is fragile)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

ARTIFACTS = Path(__file__).resolve().parents[2] / "fixtures" / "artifacts"


def copy_run(src: str, dest: Path, *, manifest_from: str | None = None) -> Path:
    """Copy a fixture run dir to ``dest`` (optionally taking manifest.json from another run)."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in (ARTIFACTS / src).glob("*.json"):
        shutil.copy(f, dest / f.name)
    if manifest_from is not None:
        shutil.copy(ARTIFACTS / manifest_from / "manifest.json", dest / "manifest.json")
    return dest


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data))


def table_dump(target: str | Path) -> list[tuple[str, list[tuple[object, ...]]]]:
    """Every table of a store but ``meta``, rows sorted: an SQLite file or a PostgreSQL URL."""
    from freshlens.state import is_postgres_url

    if is_postgres_url(str(target)):
        import psycopg

        with psycopg.connect(str(target)) as con:
            names = [
                r[0]
                for r in con.execute(
                    "select table_name from information_schema.tables "
                    "where table_schema = current_schema() order by table_name"
                )
            ]
            return [
                (n, sorted((tuple(r) for r in con.execute(f"select * from {n}")), key=repr))
                for n in names
                if n != "meta"
            ]
    import sqlite3

    con = sqlite3.connect(target)
    names = [r[0] for r in con.execute("select name from sqlite_master where type='table' order by name")]
    out = [(n, sorted(con.execute(f"select * from {n}").fetchall(), key=repr)) for n in names if n != "meta"]
    con.close()
    return out
