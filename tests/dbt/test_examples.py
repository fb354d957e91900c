"""The example projects keep their promises.

* ``examples/jaffle_fresh`` parses with real dbt, dbt stores the configs we set at each level, and
  freshlens reports nothing on it;
* ``examples/mistakes`` gives exactly the findings its README lists (file, line, column, code, severity).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from dbtdiff import DBT, REPO, run_dbt_parse, run_freshlens

pytestmark = pytest.mark.dbt

JAFFLE = REPO / "examples" / "jaffle_fresh"
MISTAKES = REPO / "examples" / "mistakes"

# | 1 | `models/fl101_count_without_period.sql` | 1:22 | FL101 error | ...
README_ROW = re.compile(
    r"^\| \d+ \| `(?P<file>[^`]+)` \| (?P<line>\d+):(?P<col>\d+) \| (?P<code>FL\d{3}) (?P<sev>\w+) \|"
)


def _findings(payload: dict[str, Any]) -> set[tuple[str, int, int, str, str]]:
    return {
        (d["file"], d["line"], d["column"], d["code"], d["severity"]) for d in payload.get("diagnostics", [])
    }


def test_jaffle_fresh_is_clean_for_freshlens() -> None:
    rc, payload, stderr = run_freshlens(JAFFLE)
    assert payload.get("version") == 1, f"no JSON from freshlens check (exit {rc}):\n{stderr[-3000:]}"
    assert payload["diagnostics"] == [], "jaffle_fresh must index cleanly"
    assert rc == 0


@pytest.mark.skipif(not DBT.exists(), reason="real dbt not installed (.venv-dbt): run scripts/setup.sh")
def test_jaffle_fresh_parses_with_dbt_and_keeps_the_configs(tmp_path: Path) -> None:
    project = tmp_path / "jaffle_fresh"
    shutil.copytree(
        JAFFLE,
        project,
        ignore=shutil.ignore_patterns("target", "logs", ".freshlens", "*.duckdb*", ".user.yml"),
    )
    run = run_dbt_parse(project)
    assert run.returncode == 0, run.problem_lines()

    manifest = json.loads((project / "target" / "manifest.json").read_text(encoding="utf-8"))
    nodes = manifest["nodes"]

    def cfg(unique_id: str, key: str) -> Any:
        return nodes[unique_id]["config"].get(key)

    def build_after(count: int, period: str) -> dict[str, Any]:
        return {"build_after": {"count": count, "period": period, "updates_on": "any"}}

    # dbt_project.yml level, inherited.
    assert cfg("model.jaffle_fresh.fct_daily_orders", "freshness") == build_after(4, "hour")
    assert cfg("model.jaffle_fresh.finance_revenue", "state") == {
        "lag_tolerance": "2h",
        "require_fresh_data_from": "any",
    }
    # Properties YAML level, with var() rendered, on both versions.
    for version in ("v1", "v2"):
        assert cfg(f"model.jaffle_fresh.dim_customers.{version}", "freshness") == build_after(6, "hour")
    assert cfg("model.jaffle_fresh.customer_activity", "state") == {
        "lag_tolerance": "30m",
        "require_fresh_data_from": "any",
    }
    # SQL config() level, including {% set %} + var().
    assert cfg("model.jaffle_fresh.fct_orders", "freshness") == build_after(1, "hour")
    assert cfg("model.jaffle_fresh.order_events", "state") == {
        "lag_tolerance": "1h",
        "require_fresh_data_from": "all",
    }
    orders = manifest["sources"]["source.jaffle_fresh.jaffle.orders"]
    assert orders["loaded_at_field"] == "_loaded_at"
    assert orders["freshness"]["warn_after"] == {"count": 6, "period": "hour"}
    assert orders["freshness"]["error_after"] == {"count": 24, "period": "hour"}
    assert orders["freshness"]["filter"] == "status <> 'returned'"
    events = manifest["sources"]["source.jaffle_fresh.jaffle_events.events_v"]
    assert events["loaded_at_query"].strip() == "select max(occurred_at) from {{ this }}"


def test_mistakes_match_their_readme() -> None:
    readme = (MISTAKES / "README.md").read_text(encoding="utf-8")
    expected = {
        (m["file"], int(m["line"]), int(m["col"]), m["code"], m["sev"])
        for m in map(README_ROW.match, readme.splitlines())
        if m
    }
    assert len(expected) == 20, "the README table should list 20 mistakes"
    rc, payload, stderr = run_freshlens(MISTAKES)
    assert payload.get("version") == 1, f"no JSON from freshlens check (exit {rc}):\n{stderr[-3000:]}"
    got = _findings(payload)
    assert sorted(got - expected) == [], "findings the README does not list"
    assert sorted(expected - got) == [], "README mistakes freshlens does not report"
    assert rc == 1
