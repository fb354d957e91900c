"""Benchmark freshlens (and optionally real ``dbt parse``) on synthetic projects.

    .venv/bin/python -m bench.run [--sizes 500,2000,10000] [--dbt] [--dbt-max 2000]

Per size (a project from ``bench.synth``), medians:

- cold: ``freshlens check PROJECT --format json`` in a fresh process (wall, peak RSS), and a fresh
  ``python -c`` that times ``Workspace([root]).load()`` + ``all_findings()`` apart from imports;
- live: in one process (a child, so its peak RSS is its own), ``Workspace.load()`` once, then
  ``update_file`` on 20 different SQL models and on 20 different properties YAML files
  (each edit is reverted, untimed, before the next);
- with ``--dbt`` (sizes <= ``--dbt-max``): ``dbt parse --no-partial-parse`` cold, and a warm partial
  ``dbt parse`` after editing one SQL model on disk.

Results go to ``bench/results/<date>-<host>.json`` (no absolute paths) and a table is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

from bench import synth

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DBT = os.path.join(REPO, ".venv-dbt", "bin", "dbt")
FRESHLENS = os.path.join(os.path.dirname(sys.executable), "freshlens")

_COLD_CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from freshlens.workspace import Workspace
t1 = time.perf_counter()
ws = Workspace([sys.argv[1]])
ws.load()
t2 = time.perf_counter()
n = len(ws.all_findings())
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "findings_s": t3 - t2, "findings": n,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run_rusage(
    cmd: list[str], cwd: str | None = None, env: dict[str, str] | None = None
) -> tuple[float, float, str]:
    """Like ``_run`` but reaps the child with ``os.wait4`` to get its own ``ru_maxrss``."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text = out.read()
        if p.returncode not in (0, 1):
            raise RuntimeError(f"{os.path.basename(cmd[0])} failed ({p.returncode}): {err.read()[-2000:]}")
    return wall, ru.ru_maxrss / 1024, text


def _median(xs: list[float]) -> float:
    return statistics.median(xs)


def _drop_render_cache(root: str) -> None:
    import shutil

    shutil.rmtree(os.path.join(root, ".freshlens", "cache"), ignore_errors=True)


def bench_cold(root: str, repeats: int) -> dict[str, object]:
    """Cold = no render cache on disk (every rendered model rendered); warm = the cache of the last run."""
    cli_wall, cli_rss, inproc = [], [], []
    for _ in range(repeats):
        _drop_render_cache(root)
        w, rss, _out = _run_rusage([FRESHLENS, "check", root, "--format", "json"])
        cli_wall.append(w)
        cli_rss.append(rss)
        _drop_render_cache(root)
        w, rss, out = _run_rusage([sys.executable, "-c", _COLD_CHILD, root])
        inproc.append(json.loads(out))
    warm = []
    for _ in range(repeats):  # the previous run left the cache
        w, rss, _out = _run_rusage([FRESHLENS, "check", root, "--format", "json"])
        warm.append(w)
        cli_rss.append(rss)
    return {
        "cli_check_s": _median(cli_wall),
        "cli_check_runs_s": cli_wall,
        "cli_check_warm_s": _median(warm),
        "cli_peak_rss_mb": max(cli_rss),
        "import_s": _median([r["import_s"] for r in inproc]),
        "load_s": _median([r["load_s"] for r in inproc]),
        "load_runs_s": [r["load_s"] for r in inproc],
        "findings_s": _median([r["findings_s"] for r in inproc]),
        "findings": inproc[0]["findings"],
        "index_peak_rss_mb": max(r["maxrss_mb"] for r in inproc),
    }


def _edit_child(root: str, n_edits: int) -> None:
    """Runs in a child: load once, then time ``update_file`` edits. Prints JSON."""
    import resource

    from freshlens.workspace import Workspace

    ws = Workspace([root])
    t0 = time.perf_counter()
    ws.load()
    load_s = time.perf_counter() - t0

    def timed_edits(paths: list[str], edit) -> tuple[list[float], list[int]]:  # type: ignore[no-untyped-def]
        times, changed = [], []
        for i, p in enumerate(paths):
            with open(p, encoding="utf-8") as fh:
                text = fh.read()
            new = edit(text, i)
            t = time.perf_counter()
            ch = ws.update_file(p, new)
            times.append(time.perf_counter() - t)
            changed.append(len(ch))
            ws.close_file(p)  # revert to the disk version (untimed)
        return times, changed

    sqls = synth.sql_files(root)
    props = synth.props_files(root)
    step_s = max(1, len(sqls) // n_edits)
    step_p = max(1, len(props) // n_edits)
    sql_paths = sqls[::step_s][:n_edits]
    prop_paths = props[::step_p][:n_edits]
    sql_t, sql_c = timed_edits(sql_paths, lambda t, i: t + f"\n-- edited {i}\n")
    rendered = [p for p in sqls if "ref_via(" in _read(p) or "from_src(" in _read(p)]
    step_r = max(1, len(rendered) // n_edits) if rendered else 1
    ren_t, _ren_c = timed_edits(rendered[::step_r][:n_edits], lambda t, i: t + f"\n-- edited {i}\n")
    yml_t, _yml_c = timed_edits(
        prop_paths, lambda t, i: t.replace("description: Synthetic", f"description: Edited {i}", 1)
    )
    print(
        json.dumps(
            {
                "load_s": load_s,
                "sql_edit_s": statistics.median(sql_t),
                "sql_edit_max_s": max(sql_t),
                "sql_edit_changed_files": statistics.median(sql_c),
                "rendered_edit_s": statistics.median(ren_t) if ren_t else None,
                "rendered_edits": len(ren_t),
                "yaml_edit_s": statistics.median(yml_t),
                "yaml_edit_max_s": max(yml_t),
                "edits": len(sql_t),
                "live_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def bench_edits(root: str, n_edits: int) -> dict[str, object]:
    _, rss, out = _run_rusage(
        [sys.executable, "-m", "bench.run", "--_edit-child", root, "--edits", str(n_edits)]
    )
    res = json.loads(out)
    res["live_peak_rss_mb"] = rss
    return res


def _dbt_env() -> dict[str, str]:
    env = dict(os.environ)
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env["DBT_PROFILES_DIR"] = "."
    return env


def bench_dbt(root: str, repeats: int) -> dict[str, object]:
    env = _dbt_env()
    cold, cold_rss = [], []
    for _ in range(repeats):
        w, rss, _ = _run_rusage(
            [DBT, "parse", "--no-partial-parse", "--profiles-dir", "."], cwd=root, env=env
        )
        cold.append(w)
        cold_rss.append(rss)
    _run_rusage([DBT, "parse", "--profiles-dir", "."], cwd=root, env=env)  # writes partial_parse.msgpack
    sqls = synth.sql_files(root)
    warm, warm_rss = [], []
    for i in range(repeats):
        p = sqls[(i * 7919) % len(sqls)]
        with open(p, encoding="utf-8") as fh:
            orig = fh.read()
        try:
            with open(p, "w", encoding="utf-8") as fh:
                fh.write(orig + f"\n-- edited {i}\n")
            w, rss, _ = _run_rusage([DBT, "parse", "--profiles-dir", "."], cwd=root, env=env)
            warm.append(w)
            warm_rss.append(rss)
        finally:
            with open(p, "w", encoding="utf-8") as fh:
                fh.write(orig)
    return {
        "cold_s": _median(cold),
        "cold_runs_s": cold,
        "cold_peak_rss_mb": max(cold_rss),
        "warm_sql_edit_s": _median(warm),
        "warm_runs_s": warm,
        "warm_peak_rss_mb": max(warm_rss),
    }


def _machine() -> dict[str, object]:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = 0.0
    with contextlib.suppress(ValueError, OSError):
        mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "mem_gb": round(mem_gb, 1),
        "os": platform.system(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }


def _versions(with_dbt: bool) -> dict[str, str]:
    from freshlens import __version__

    v = {"freshlens": __version__}
    if with_dbt:
        try:
            out = subprocess.run([DBT, "--version"], capture_output=True, text=True, env=_dbt_env()).stdout
            for line in out.splitlines():
                if "installed:" in line:
                    v["dbt-core"] = line.split(":", 1)[1].strip()
                if line.strip().startswith("- duckdb:"):
                    v["dbt-duckdb"] = line.split(":", 1)[1].split()[0]
        except OSError:
            pass
    return v


def _fmt(x: object, unit: str) -> str:
    if not isinstance(x, (int, float)):
        return "—"
    if unit == "ms":
        return f"{x * 1000:.1f} ms"
    if unit == "MB":
        return f"{x:.0f} MB"
    if unit == "x":
        return f"{x:.0f}×"
    return f"{x:.2f} s"


def table(results: list[dict[str, object]]) -> str:
    head = [
        "models",
        "variant",
        "fl check (cold CLI)",
        "fl check (warm CLI)",
        "fl index (in-proc)",
        "fl SQL edit",
        "fl YAML edit",
        "fl peak RSS",
        "dbt parse cold",
        "dbt partial (SQL edit)",
        "cold ratio dbt/fl",
        "edit ratio dbt/fl",
    ]
    rows = []
    for r in results:
        c, e, d = r["cold"], r["edits"], r.get("dbt") or {}
        assert isinstance(c, dict) and isinstance(e, dict) and isinstance(d, dict)
        rows.append(
            [
                f"{r['models']:,}",
                "Jinja-heavy" if r.get("jinja") else "plain",
                _fmt(c["cli_check_s"], "s"),
                _fmt(c.get("cli_check_warm_s"), "s"),
                _fmt(c["load_s"], "s"),
                _fmt(e["sql_edit_s"], "ms")
                + (f" ({_fmt(e['rendered_edit_s'], 'ms')} rendered)" if e.get("rendered_edit_s") else ""),
                _fmt(e["yaml_edit_s"], "ms"),
                _fmt(max(c["cli_peak_rss_mb"], e["live_peak_rss_mb"]), "MB"),
                _fmt(d.get("cold_s"), "s"),
                _fmt(d.get("warm_sql_edit_s"), "s"),
                _fmt(d["cold_s"] / c["cli_check_s"], "x") if d else "—",
                _fmt(d["warm_sql_edit_s"] / e["sql_edit_s"], "x") if d else "—",
            ]
        )
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run")
    ap.add_argument("--sizes", default="500,2000,10000")
    ap.add_argument("--dbt", action="store_true", help="also time real dbt parse (slow)")
    ap.add_argument("--dbt-max", type=int, default=2000, help="largest size to run dbt on")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--dbt-large-repeats",
        type=int,
        default=1,
        help="dbt repeats above 2,000 models (a cold parse takes minutes)",
    )
    ap.add_argument("--edits", type=int, default=20)
    ap.add_argument(
        "--variant",
        choices=("plain", "jinja", "both"),
        default="plain",
        help="the synthetic project: plain, Jinja-heavy (30%% of models rendered), or both",
    )
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "freshlens-bench"))
    ap.add_argument("--results", default="", help="results JSON (default bench/results/<date>-<host>.json)")
    ap.add_argument("--_edit-child", dest="edit_child", default="", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.edit_child:
        _edit_child(a.edit_child, a.edits)
        return 0
    sizes = [int(s) for s in a.sizes.split(",") if s.strip()]
    results: list[dict[str, object]] = []
    variants = {"plain": [False], "jinja": [True], "both": [False, True]}[a.variant]
    for n, jinja in [(n, j) for n in sizes for j in variants]:
        root = os.path.join(a.workdir, f"p{n}{'-jinja' if jinja else ''}")
        summary = synth.generate(root, n, jinja=jinja)
        print(f"== {n} models: {summary}", file=sys.stderr, flush=True)
        r: dict[str, object] = {"models": n, "jinja": jinja, "project": summary}
        r["cold"] = bench_cold(root, a.repeats)
        print(f"   cold: {r['cold']}", file=sys.stderr, flush=True)
        r["edits"] = bench_edits(root, a.edits)
        print(f"   edits: {r['edits']}", file=sys.stderr, flush=True)
        if a.dbt and n <= a.dbt_max:
            reps = a.repeats if n <= 2000 else a.dbt_large_repeats
            r["dbt"] = bench_dbt(root, reps)
            r["dbt"]["repeats"] = reps
            print(f"   dbt: {r['dbt']}", file=sys.stderr, flush=True)
        results.append(r)
    machine = _machine()
    doc = {
        "date": _dt.date.today().isoformat(),
        "machine": machine,
        "versions": _versions(a.dbt),
        "repeats": a.repeats,
        "edits": a.edits,
        "results": results,
    }
    path = a.results or os.path.join(
        REPO, "bench", "results", f"{doc['date']}-{machine['cpus']}cpu-{machine['machine']}.json"
    )
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2)
        fh.write("\n")
    print(table(results))
    print(f"results: {os.path.relpath(path, REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
