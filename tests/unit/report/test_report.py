"""The plan report: its data (rows, lineage, the path of new data, the summary), and the Markdown
and HTML the CLI writes from it, on real plans of small projects."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from freshlens.planner.core import BUILD, REUSE
from freshlens.planner.gather import PlanResult
from freshlens.report import build_report, summary_line
from freshlens.report.html import asset, data_json, render_html
from freshlens.report.markdown import render_markdown

from ..planner.helpers import NOW, Scenario, ago

REPO = Path(__file__).resolve().parents[3]

SOURCES = "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: t\n      - name: u\n"
TABLE = "{{ config(materialized='table'"


def lineage(tmp_path: Path) -> tuple[Scenario, PlanResult]:
    """raw.t → a → b and raw.u → c; raw.t has new data since the last build, raw.u has not."""
    sc = Scenario(
        tmp_path,
        {
            "models/sources.yml": SOURCES,
            "models/staging/a.sql": TABLE
            + ", tags=['daily', 'core']) }}\nselect * from {{ source('raw', 't') }}",
            "models/marts/b.sql": TABLE + ") }}\nselect * from {{ ref('a') }}",
            "models/marts/c.sql": TABLE + ") }}\nselect * from {{ source('raw', 'u') }}",
        },
    )
    sc.built("a", ago(hours=2), saw={"raw.t": ago(hours=3)})
    sc.built("b", ago(hours=2))
    sc.built("c", ago(hours=2), saw={"raw.u": ago(hours=3)})
    sc.fresh("raw.t", ago(hours=1))
    sc.fresh("raw.u", ago(hours=3))
    by_name = sc.plan()
    decisions = {d.unique_id: d for d in by_name.values()}
    return sc, PlanResult("sao", NOW, decisions, "state.db", "sources.json")


def test_rows_carry_what_the_table_shows(tmp_path: Path) -> None:
    sc, res = lineage(tmp_path)
    report = build_report([(sc.index, res)])
    rows = {r["name"]: r for r in report["rows"]}
    assert [r["name"] for r in report["rows"]] == ["a", "b", "c"]  # builds first, then by name
    assert rows["a"]["action"] == BUILD and rows["b"]["action"] == BUILD and rows["c"]["action"] == REUSE
    assert rows["a"]["tags"] == ["daily", "core"]
    assert rows["a"]["folder"] == "models/staging" and rows["a"]["file"] == "models/staging/a.sql"
    assert rows["c"]["last_build"] == "2026-07-01T10:00:00Z"
    assert rows["c"]["rule"] and rows["c"]["short"]
    assert rows["a"]["window"] == "build_after 0" and rows["a"]["window_seconds"] == 0
    assert rows["a"]["project"] == "p"
    assert report["projects"][0]["root"] is None  # no machine path unless the editor asks for it
    assert build_report([(sc.index, res)], root=True)["projects"][0]["root"] == str(tmp_path)


def test_edges_that_carry_new_data_are_the_path_from_the_source(tmp_path: Path) -> None:
    sc, res = lineage(tmp_path)
    graph = build_report([(sc.index, res)])["graph"]
    names = [n["name"] for n in graph["nodes"]]
    edges = {(names[p], names[c]): bool(new) for p, c, new in graph["edges"]}
    assert edges == {("raw.t", "a"): True, ("a", "b"): True, ("raw.u", "c"): False}
    sources = {n["name"]: n for n in graph["nodes"] if n["kind"] == "source"}
    assert sources["raw.t"]["new_data"] is True and sources["raw.u"]["new_data"] is False
    assert {n["name"]: n["action"] for n in graph["nodes"]}["c"] == REUSE


def test_a_changed_models_rebuild_feeds_its_descendants(tmp_path: Path) -> None:
    """dbt State rebuilds the descendants of a changed model (R15): its new output flows to them."""
    sc = Scenario(
        tmp_path,
        {
            "models/a.sql": TABLE + ") }}\nselect 1 as x",
            "models/b.sql": TABLE + ") }}\nselect * from {{ ref('a') }}",
        },
    )
    sc.built("a", ago(hours=2), code=TABLE + ") }}\nselect 2 as x")
    sc.built("b", ago(hours=2))
    decisions = {d.unique_id: d for d in sc.plan("dbt-state").values()}
    report = build_report([(sc.index, PlanResult("dbt-state", NOW, decisions, "s", ""))])
    assert {r["name"]: r["action"] for r in report["rows"]} == {"a": BUILD, "b": BUILD}
    names = [n["name"] for n in report["graph"]["nodes"]]
    assert [[names.index("a"), names.index("b"), 1]] == report["graph"]["edges"]
    assert {n["project"] for n in report["graph"]["nodes"]} == {"p"}


def test_summary_line_counts_every_action() -> None:
    assert summary_line({"build": 14, "reuse": 5, "unknown": 1}) == (
        "The next run would rebuild 14 of 20 models (5 reuse, 1 unknown)."
    )
    assert summary_line({"build": 1}) == "The next run would rebuild 1 of 1 model."
    assert summary_line({}) == "The next run would rebuild 0 of 0 models."
    assert summary_line({"no-op": 2400, "unknown": 7600}) == (
        "The next run would rebuild 0 of 10,000 models (2,400 no-op, 7,600 unknown)."
    )


def test_markdown_leads_with_the_summary_groups_by_action_and_escapes_cells(tmp_path: Path) -> None:
    sc, res = lineage(tmp_path)
    res.decisions[sc.uid("c")].short = "a | pipe\nand a newline"
    md = render_markdown(build_report([(sc.index, res)]))
    assert md.startswith("## freshlens plan: The next run would rebuild 2 of 3 models (1 reuse).\n")
    assert md.index("### Build (2)") < md.index("### Reuse (1)")
    assert "| **c** | a \\| pipe and a newline |" in md
    table_rows = [ln for ln in md.splitlines() if ln.startswith("| **")]
    assert len(table_rows) == 3


def test_markdown_caps_long_tables_with_a_note(tmp_path: Path) -> None:
    sc, res = lineage(tmp_path)
    md = render_markdown(build_report([(sc.index, res)]), limit=1)
    assert len([ln for ln in md.splitlines() if ln.startswith("| **")]) == 1
    assert "*… and 1 more build row not shown (this comment lists at most 1)" in md
    assert "*… and 1 more reuse row not shown" in md


def _embedded(page: str) -> Any:
    m = re.search(r'<script type="application/json" id="freshlens-report-data">(.*?)</script>', page, re.S)
    assert m, "no report data in the page"
    return json.loads(m.group(1))


def test_html_is_self_contained(tmp_path: Path) -> None:
    sc, res = lineage(tmp_path)
    report = build_report([(sc.index, res)])
    page = render_html(report)
    assert _embedded(page) == report
    # the libraries and the UI are inlined, whole
    for name in ("vendor/cytoscape.min.js", "vendor/cytoscape-dagre.min.js", "report.js", "report.css"):
        assert asset(name).strip()[-200:] in page, name
    # nothing is loaded from anywhere: no src/href attributes, and the page's CSP forbids fetching
    assert not re.search(r"""\s(src|href)\s*=\s*["']?[a-z]+:""", page, re.I)
    assert "<link" not in page and "@import" not in page
    assert "default-src 'none'" in page


def test_html_data_cannot_end_its_script_element(tmp_path: Path) -> None:
    sc, res = lineage(tmp_path)
    res.problems.append("state note </script><script>alert(1)</script> & more")
    report = build_report([(sc.index, res)])
    page = render_html(report)
    assert "<script>alert(1)" not in page
    assert _embedded(page)["projects"][0]["problems"] == [res.problems[0]]
    assert "</" not in data_json(report)


def test_vendored_libraries_are_the_pinned_versions() -> None:
    lock = json.loads((REPO / "scripts/report-assets/package-lock.json").read_text())
    licenses = asset("vendor/LICENSES.md")
    for pkg in ("cytoscape", "cytoscape-dagre", "@dagrejs/dagre", "@dagrejs/graphlib"):
        version = lock["packages"][f"node_modules/{pkg}"]["version"]
        assert re.search(rf"\| {re.escape(pkg)} \| {re.escape(version)} \| MIT \|", licenses), pkg
    assert "cytoscape-dagre " + lock["packages"]["node_modules/cytoscape-dagre"]["version"][:1] in asset(
        "vendor/cytoscape-dagre.min.js"
    )
