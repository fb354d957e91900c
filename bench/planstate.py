"""Planning and selector generation at scale, with full state from SQLite and from PostgreSQL (issue 9).

    .venv/bin/python -m bench.planstate [--models 10000] [--repeats 5] [--pg postgresql://…] [--json OUT]

A project from ``bench.synth`` is indexed once; then one synthetic production run is written as dbt
artifacts — ``manifest.json`` whose every model, seed and snapshot carries the code, materialization
and relation freshlens sees now (so nothing reads as a code change), ``run_results.json`` with a
``success`` for each, ``sources.json`` with every source observed before the builds — and ingested
into an SQLite store and, with ``--pg``, into the PostgreSQL database given (it must be empty, or hold
only this benchmark's run). What is timed, median of ``--repeats``, in process, caches cleared:

- ``plan``: what ``freshlens run`` does before it starts dbt — ``run_plan`` (reading the whole state
  from the store, current freshness, every decision) and the exact selectors, chunked, of what it builds;
- ``load``: the state read alone (``load_state``);
- ``selectors (all)``: the selectors for every node, the case of a run that builds everything.

The runner's own overhead over a plain ``dbt build`` is measured on the example project by
``bench.runoverhead``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import synth
from freshlens.planner.code_change import raw_code
from freshlens.planner.core import BUILD, UNKNOWN
from freshlens.planner.gather import _CACHE, PlanOptions, run_plan
from freshlens.runner.selection import chunks, node_selectors
from freshlens.state import load_state, open_store
from freshlens.workspace import Workspace

REPO = Path(__file__).resolve().parent.parent
FIXTURE_RUN = REPO / "tests" / "fixtures" / "artifacts" / "run1"


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def write_run(idx: Any, texts: dict[str, str], out: Path, built_at: datetime) -> int:
    """The synthetic production run (module docs) as dbt artifacts in ``out``; returns the node count."""
    out.mkdir(parents=True, exist_ok=True)
    meta = {k: v for k, v in json.loads((FIXTURE_RUN / "manifest.json").read_text())["metadata"].items()}
    meta.update(invocation_id="bench-full-state", generated_at=_iso(built_at))
    nodes: dict[str, Any] = {}
    results: list[dict[str, Any]] = []
    for uid, node in idx.nodes.items():
        text = texts.get(node.path or "", "")
        if node.path and not text:
            with open(node.path, encoding="utf-8") as fh:
                text = fh.read()
        mat = node.materialized if isinstance(node.materialized, str) else None
        nodes[uid] = {
            "unique_id": uid,
            "resource_type": node.resource_type,
            "name": node.name,
            "package_name": node.package,
            "original_file_path": os.path.relpath(node.path, idx.dir) if node.path else "",
            "language": node.language,
            "raw_code": raw_code(node, text) if node.resource_type != "seed" else "",
            "config": {"materialized": mat, "enabled": True},
            "unrendered_config": {"materialized": mat} if mat else {},
            "checksum": {"name": "sha256", "checksum": uid},
            "depends_on": {"nodes": list(node.parents), "macros": []},
            "database": "bench",
            "schema": "main",
            "alias": node.name,
        }
        done = _iso(built_at - timedelta(seconds=1))
        results.append(
            {
                "unique_id": uid,
                "status": "success",
                "message": None,
                "timing": [{"name": "execute", "started_at": done, "completed_at": done}],
            }
        )
    sources = {
        uid: {
            "unique_id": uid,
            "source_name": src.source_name,
            "name": src.name,
            "database": "bench",
            "schema": "raw",
            "identifier": src.name,
            "loaded_at_field": "loaded_at",
        }
        for uid, src in idx.sources.items()
    }
    rr_meta = {**meta, "dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v6.json"}
    src_meta = {**meta, "dbt_schema_version": "https://schemas.getdbt.com/dbt/sources/v3.json"}
    loaded = _iso(built_at - timedelta(hours=1))
    observed = [
        {
            "unique_id": uid,
            "max_loaded_at": loaded,
            "snapshotted_at": _iso(built_at - timedelta(minutes=5)),
            "status": "pass",
        }
        for uid in sources
    ]
    _dump(out / "manifest.json", {"metadata": meta, "nodes": nodes, "sources": sources, "macros": {}})
    _dump(out / "run_results.json", {"metadata": rr_meta, "results": results, "args": {"which": "build"}})
    _dump(out / "sources.json", {"metadata": src_meta, "results": observed})
    return len(nodes)


def _dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def _time_plan(
    idx: Any, texts: dict[str, str], target: str, sources: str
) -> tuple[float, dict[str, int], int]:
    _CACHE.clear()
    t0 = time.perf_counter()
    res = run_plan(
        idx, PlanOptions(state=target, sources=sources, regime="sao"), texts, kept=True
    )  # as run does
    to_build = [uid for uid, d in res.decisions.items() if d.action in (BUILD, UNKNOWN)]  # DAG order
    parts = chunks(node_selectors(idx, to_build))
    elapsed = time.perf_counter() - t0
    if res.problems:
        raise SystemExit(f"planning reported problems: {res.problems[:3]}")
    return elapsed, res.counts(), len(parts)


def measure(idx: Any, texts: dict[str, str], target: str, sources: str, repeats: int) -> dict[str, Any]:
    plans = [_time_plan(idx, texts, target, sources) for _ in range(repeats)]
    loads = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        load_state(target)
        loads.append(time.perf_counter() - t0)
    return {
        "plan_and_selectors_s": statistics.median(p[0] for p in plans),
        "plan_runs_s": [round(p[0], 4) for p in plans],
        "load_state_s": statistics.median(loads),
        "decisions": plans[0][1],
        "dbt_build_commands": plans[0][2],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.planstate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=int, default=10000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--pg", default="", help="an empty PostgreSQL database URL to measure too")
    ap.add_argument("--json", default="", help="write the figures here as JSON")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="freshlens-planstate-") as tmp:
        root = os.path.join(tmp, "project")
        synth.generate(root, args.models)
        ws = Workspace([root])
        ws.load()
        proj = next(iter(ws.projects.values()))
        idx, texts = proj.index, {p: v.text for p, v in ws.cache.items()}
        assert idx is not None
        built_at = datetime.now(UTC) - timedelta(minutes=10)
        run = Path(tmp) / "run"
        n = write_run(idx, texts, run, built_at)
        sources = str(run / "sources.json")  # current freshness: no new data since the builds
        targets = {"sqlite": str(Path(tmp) / "state.db")}
        if args.pg:
            targets["postgresql"] = args.pg
        out: dict[str, Any] = {"models": args.models, "nodes_in_state": n, "repeats": args.repeats}
        for name, target in targets.items():
            t0 = time.perf_counter()
            with open_store(target) as store:
                store.ingest(run)
            out[f"{name}_ingest_s"] = time.perf_counter() - t0
            out[name] = measure(idx, texts, target, sources, args.repeats)
        t0 = time.perf_counter()
        every = chunks(node_selectors(idx, list(idx.topo_order())))
        out["selectors_all_s"] = time.perf_counter() - t0
        out["selectors_all_commands"] = len(every)
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
