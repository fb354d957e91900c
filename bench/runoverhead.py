"""What ``freshlens run`` adds to a plain ``dbt build`` of the same selection, on the example project.

    .venv/bin/python -m bench.runoverhead [--repeats 5] [--state postgresql://…] [--json OUT]

A copy of ``examples/jaffle_fresh`` (its Python model removed: it is always built) gets the demo data
and a first ``freshlens run``. Then, per repeat, ``stg_payments.sql`` is edited (a new where clause: a
code change, so it and its descendants are built), ``freshlens run --dry-run`` gives the exact dbt
command, and both are timed: that ``dbt build`` alone, then, after another edit of the same file (so
that dbt's partial parsing has one changed file to read in both), ``freshlens run --no-refresh`` (which
plans, runs the same ``dbt build``, copies and ingests its artifacts and records the run). Overhead is the
difference of the medians. Needs ``.venv-dbt`` (scripts/setup.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DBT = REPO / ".venv-dbt" / "bin" / "dbt"
DBT_PY = REPO / ".venv-dbt" / "bin" / "python"
EXAMPLE = REPO / "examples" / "jaffle_fresh"
EDITED = Path("models") / "staging" / "stg_payments.sql"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(DBT_SEND_ANONYMOUS_USAGE_STATS="false", DBT_USE_COLORS="false", DBT_VERSION_CHECK="false")
    env.pop("DBT_PROFILES_DIR", None)
    env.pop("VIRTUAL_ENV", None)
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} … failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return elapsed, proc.stdout


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.runoverhead", description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--state", default="", help="state store for freshlens run (default: the project's file)")
    ap.add_argument("--json", default="", help="write the figures here as JSON")
    args = ap.parse_args(argv)
    if not DBT.exists():
        raise SystemExit(f"{DBT} is missing: run scripts/setup.sh")
    env = _env()
    fl = [
        sys.executable,
        "-m",
        "freshlens",
        "run",
        ".",
        "--regime",
        "sao",
        "--dbt",
        str(DBT),
        "--format",
        "json",
    ]
    if args.state:
        fl += ["--state", args.state]
    with tempfile.TemporaryDirectory(prefix="freshlens-runoverhead-") as tmp:
        root = Path(tmp) / "jaffle_fresh"
        shutil.copytree(
            EXAMPLE, root, ignore=shutil.ignore_patterns("target", "logs", ".freshlens", "*.duckdb*")
        )
        (root / "models" / "analytics" / "customer_order_counts.py").unlink()
        _run(
            [str(DBT_PY), str(REPO / "scripts" / "demo-data.py"), "--db", str(root / "jaffle_fresh.duckdb")],
            root,
            env,
        )
        _run(fl, root, env)  # the first run: builds everything, fills the store
        base = (root / EDITED).read_text(encoding="utf-8")
        plain: list[float] = []
        runs: list[float] = []
        selected = 0
        for i in range(args.repeats):
            (root / EDITED).write_text(base + f"where p.id > -{i + 1}\n", encoding="utf-8")
            _, out = _run([*fl, "--dry-run", "--no-refresh"], root, env)
            doc: dict[str, Any] = json.loads(out)
            [line] = doc["commands"]
            cmd = shlex.split(line)
            selected = len(cmd) - 3
            t, _ = _run(cmd, root, env)
            plain.append(t)
            # a new edit for the run too: both face one changed file in dbt's partial parse (with the
            # same file as the plain build, dbt would skip re-parsing it and favour the run)
            (root / EDITED).write_text(base + f"where p.id > -{i + 1} and true\n", encoding="utf-8")
            t, out = _run([*fl, "--no-refresh"], root, env)
            runs.append(t)
            built = sum(1 for n in json.loads(out)["nodes"] if n["outcome"] == "built")
            assert built > 0, "the edit did not make freshlens build anything"
    result = {
        "selected_nodes": selected,
        "dbt_build_s": statistics.median(plain),
        "freshlens_run_s": statistics.median(runs),
        "overhead_s": statistics.median(runs) - statistics.median(plain),
        "dbt_build_runs_s": [round(x, 3) for x in plain],
        "freshlens_run_runs_s": [round(x, 3) for x in runs],
        "state": "postgresql" if args.state else "sqlite",
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
