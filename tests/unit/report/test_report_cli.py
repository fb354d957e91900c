"""`freshlens plan --format html|markdown` end to end through the CLI: on the example project, on the
tiny project with real dbt state, and on a generated project of 1,200 models."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from bench.synth import generate

from freshlens.cli import main

REPO = Path(__file__).resolve().parents[3]
ART = REPO / "tests" / "fixtures" / "artifacts"
AT = "2026-11-25T18:42:18Z"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(["plan", *args])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """tiny_project (files as of run 2) planned against run 1's state: some models build on new data."""
    root = tmp_path_factory.mktemp("tiny")
    shutil.copytree(ART / "tiny_project", root, dirs_exist_ok=True)
    opts = ["--state", str(ART / "run1"), "--sources", str(ART / "run2" / "sources.json")]
    return [str(root), *opts, "--regime", "sao", "--at", AT]


def _embedded(page: str) -> Any:
    m = re.search(r'<script type="application/json" id="freshlens-report-data">(.*?)</script>', page, re.S)
    assert m
    return json.loads(m.group(1))


def _md_counts(md: str) -> dict[str, int]:
    return {t.lower(): int(n) for t, n in re.findall(r"^### (\w[\w-]*) \((\d+)\)$", md, re.M)}


def test_markdown_counts_match_the_json_plan(capsys: pytest.CaptureFixture[str], tiny: list[str]) -> None:
    rc, out, _ = run(capsys, *tiny, "--format", "json")
    assert rc == 0
    plan = json.loads(out)
    rc, md, _ = run(capsys, *tiny, "--format", "markdown")
    assert rc == 0
    counts = plan["counts"]
    assert _md_counts(md) == counts
    total = sum(counts.values())
    assert md.startswith(f"## freshlens plan: The next run would rebuild {counts['build']} of {total} models")
    for m in plan["models"]:
        assert f"| **{m['name']}** | {m['short']} | {m['rule']} |" in md


def test_html_to_a_file_holds_the_plan_and_the_new_data_path(
    capsys: pytest.CaptureFixture[str], tiny: list[str], tmp_path: Path
) -> None:
    out_file = tmp_path / "plan.html"
    rc, out, err = run(capsys, *tiny, "--format", "html", "--output", str(out_file))
    assert rc == 0 and out == ""
    assert f"Report written to {out_file}" in err
    report = _embedded(out_file.read_text(encoding="utf-8"))
    rc, js, _ = run(capsys, *tiny, "--format", "json")
    plan = json.loads(js)
    assert {r["id"]: r["action"] for r in report["rows"]} == {
        m["unique_id"]: m["action"] for m in plan["models"]
    }
    nodes = report["graph"]["nodes"]
    flows = {(nodes[p]["name"], nodes[c]["name"]) for p, c, new in report["graph"]["edges"] if new}
    assert ("raw.orders", "orders_snap") in flows  # run 2's sources.json has newer orders than run 1 saw
    assert all(r["action"] == "build" for r in report["rows"] if r["name"] in {c for _, c in flows})
    assert report["projects"][0]["root"] is None


def test_text_and_json_are_unchanged_and_output_needs_a_report_format(
    capsys: pytest.CaptureFixture[str], tiny: list[str], tmp_path: Path
) -> None:
    rc, out, _ = run(capsys, *tiny)
    assert rc == 0 and out.startswith("freshlens plan — tiny, regime sao")
    rc, out, err = run(capsys, *tiny, "--format", "json", "--output", str(tmp_path / "x"))
    assert rc == 2 and "--output is for --format html or markdown" in err
    rc, out, err = run(
        capsys, *tiny, "--format", "html", "--output", str(tmp_path / "no" / "such" / "x.html")
    )
    assert rc == 2 and "cannot write" in err


def test_example_project(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = tmp_path / "jaffle"
    shutil.copytree(
        REPO / "examples" / "jaffle_fresh", root, ignore=shutil.ignore_patterns(".freshlens", "target")
    )
    rc, md, _ = run(capsys, str(root), "--format", "markdown")
    assert rc == 0
    rc, js, _ = run(capsys, str(root), "--format", "json")
    counts = json.loads(js)["counts"]
    assert _md_counts(md) == counts and sum(counts.values()) >= 15
    rc, page, _ = run(capsys, str(root), "--format", "html")
    report = _embedded(page)
    assert {"stg_orders", "fct_orders", "dim_customers.v2"} <= {r["name"] for r in report["rows"]}
    assert {"jaffle.orders", "jaffle.payments"} <= {n["name"] for n in report["graph"]["nodes"]}


def test_generated_project_markdown_is_capped(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    generate(str(tmp_path / "p"), 1200)
    rc, md, _ = run(capsys, str(tmp_path / "p"), "--format", "markdown")
    assert rc == 0
    counts = _md_counts(md)
    assert sum(counts.values()) == 1200
    assert len([ln for ln in md.splitlines() if ln.startswith("| **")]) == 200
    assert "not shown (this comment lists at most 200)" in md
    assert len(md) < 65536  # GitHub's limit for a comment
    rc, page, _ = run(capsys, str(tmp_path / "p"), "--format", "html")
    report = _embedded(page)
    assert len(report["rows"]) == 1200 and len(report["graph"]["edges"]) > 1200
