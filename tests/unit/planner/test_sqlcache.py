"""The planner's parsed-SQL reports survive a restart (dbt State R18 parses every view with a `*`):
kept in .freshlens/cache/sql-v1.json, reused without parsing, ignored when stale or damaged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from freshlens.planner import sqlcache
from freshlens.sql import structure

SQL = "select * from __dbt_ref__m1 as a"
OVER_CTE = "with x as (select id from t) select * from x"


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a new process would: nothing known, nothing loaded."""
    monkeypatch.setattr(structure, "KNOWN", {})
    monkeypatch.setattr(structure, "MADE", {})
    monkeypatch.setattr(sqlcache, "_loaded", set())
    structure.star_report.cache_clear()


def _restart(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh_process.__wrapped__(monkeypatch)  # type: ignore[attr-defined]


def test_reports_are_kept_and_reused_without_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = structure.star_report(SQL, "duckdb"), structure.star_report(OVER_CTE, "duckdb")
    assert first[0].direct and not first[1].direct and first[1].over
    sqlcache.save(str(tmp_path))
    assert (tmp_path / ".freshlens" / "cache" / sqlcache.FILE_NAME).is_file()
    _restart(monkeypatch)

    def no_parsing(text: str, adapter: str | None) -> structure.StarReport:
        raise AssertionError("parsed again")

    monkeypatch.setattr(structure, "_star_report", no_parsing)
    sqlcache.load(str(tmp_path))
    assert (structure.star_report(SQL, "duckdb"), structure.star_report(OVER_CTE, "duckdb")) == first
    with pytest.raises(AssertionError, match="parsed again"):
        structure.star_report(SQL, "postgres")  # another adapter: another report


def test_another_version_or_a_damaged_file_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    structure.star_report(SQL, "duckdb")
    sqlcache.save(str(tmp_path))
    path = tmp_path / ".freshlens" / "cache" / sqlcache.FILE_NAME
    data = json.loads(path.read_text())
    for text in (json.dumps({**data, "versions": "0/old/0"}), "{", json.dumps({**data, "reports": 3})):
        path.write_text(text)
        _restart(monkeypatch)
        sqlcache.load(str(tmp_path))
        assert structure.KNOWN == {}
