"""How long the plan report takes to generate on a large project (docs/benchmarks.md, "Plan report").

``python -m bench.report [N ...]`` generates ``bench/synth.py`` projects of N models (default 10,000),
plans them once without state (every model is predicted; the plan itself is not what is timed here),
then times, median of 3: the report's data (``build_report``), the HTML page (``render_html``), the
Markdown (``render_markdown``), and the whole ``freshlens plan --format html`` in a fresh process.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from bench.synth import generate
from freshlens.planner.gather import PlanOptions, run_plan
from freshlens.report import build_report
from freshlens.report.html import render_html
from freshlens.report.markdown import render_markdown
from freshlens.workspace import Workspace


def _median(fn: Callable[[], object], n: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def measure(n_models: int, workdir: str) -> dict[str, float]:
    proj = os.path.join(workdir, f"p{n_models}")
    if not os.path.isfile(os.path.join(proj, "dbt_project.yml")):
        generate(proj, n_models)
    ws = Workspace([proj])
    ws.load()
    (p,) = ws.projects.values()
    assert p.index is not None
    idx = p.index
    res = run_plan(idx, PlanOptions(), {k: v.text for k, v in ws.cache.items()})
    t_data, report = _median(lambda: build_report([(idx, res)]))
    assert isinstance(report, dict)
    t_html, page = _median(lambda: render_html(report))
    t_md, _ = _median(lambda: render_markdown(report))
    out = os.path.join(workdir, "plan.html")
    cmd = [sys.executable, "-m", "freshlens", "plan", proj, "--format", "html", "--output", out]
    t_cli, _ = _median(lambda: subprocess.run(cmd, check=True, capture_output=True))
    return {
        "models": n_models,
        "graph_nodes": len(report["graph"]["nodes"]),
        "graph_edges": len(report["graph"]["edges"]),
        "report_data_s": round(t_data, 3),
        "render_html_s": round(t_html, 3),
        "render_markdown_s": round(t_md, 3),
        "html_mb": round(len(str(page).encode("utf-8")) / 1e6, 2),
        "cli_plan_html_s": round(t_cli, 2),
    }


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or [10000]
    workdir = os.path.join(tempfile.gettempdir(), "freshlens-bench")
    os.makedirs(workdir, exist_ok=True)
    for n in sizes:
        print(measure(n, workdir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
