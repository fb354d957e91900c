"""Measure how closely freshlens' view of a project matches what ``dbt parse`` wrote.

    .venv/bin/python -m bench.parity PROJECT [PROJECT ...] [--run-dbt] [--vars YAML] [--also PACKAGE] [--json OUT]

PROJECT is a dbt project folder with its packages laid out under ``dbt_packages/``. With
``--run-dbt`` it runs ``dbt parse --no-partial-parse`` first (the user's dbt from ``.venv-dbt``,
against the ``profiles.yml`` in PROJECT); otherwise it reads the ``target/manifest.json`` already
there. Then it lists the project in-process (``freshlens ls``), compares the two with
``freshlens.parity.compare`` (root project only, plus any package named with ``--also``) and prints
the figures that go into docs/parity.md, with the causes of missing edges counted by
``edge_cause`` (read from each child's ``raw_code`` in the manifest).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import time
from typing import Any

from freshlens.listing import list_index, parse_vars
from freshlens.parity import Parity, compare
from freshlens.workspace import Workspace

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DBT = os.path.join(REPO, ".venv-dbt", "bin", "dbt")

# Jinja names that are dbt's own, not project/package macros, when seen as ``name(`` in a model.
_BUILTINS = {
    "ref", "source", "config", "var", "env_var", "is_incremental", "return", "log", "adapter",
    "this", "target", "range", "zip", "dict", "list", "set", "print", "loop", "exceptions",
    "modules", "fromjson", "tojson", "fromyaml", "toyaml", "run_query", "statement", "caller",
    "load_result", "dbt", "builtins", "local_md5", "namespace", "cycler", "joiner", "lipsum",
}  # fmt: skip
_CALL = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?)\s*\(")
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


def edge_cause(raw_code: str, parent_uid: str) -> str:
    """Why a ``depends_on`` edge of dbt's is not in freshlens' DAG, judged from the child's code."""
    parts = parent_uid.split(".")
    name = parts[-1] if not re.fullmatch(r"v\d+", parts[-1]) else parts[-2]
    jinja = " ".join(_JINJA.findall(raw_code))
    lit = re.compile(r"""['"]""" + re.escape(name) + r"""['"]""")
    if re.search(r"\b(ref|source)\([^)]*" + r"""['"]""" + re.escape(name) + r"""['"]""", jinja):
        return "literal ref/source missed"
    if re.search(r"\b(ref|source)\([^)]*~", jinja) or (
        re.search(r"\b(ref|source)\(\s*[A-Za-z_]", jinja) and "{% for" in raw_code.replace("{%-", "{%")
    ):
        return "ref built in a loop / from {% set %}"
    if re.search(r"\b(ref|source)\(\s*var\(", jinja):
        return "ref through a vars: value"
    if re.search(r"\b(ref|source)\(\s*[A-Za-z_]", jinja):
        return "ref with a computed argument"
    if "adapter.dispatch" in jinja:
        return "adapter.dispatch"
    macros = {m for m in _CALL.findall(jinja) if m.split(".")[0] not in _BUILTINS}
    if macros and lit.search(jinja):
        return "name passed as a string to a macro"
    if macros:
        return "ref/source inside a macro"
    if "var(" in jinja:
        return "ref through a vars: value"
    return "other"


def listing_of(project: str, user_vars: dict[str, Any]) -> tuple[dict[str, Any], float, str]:
    """(the ``freshlens ls`` document, seconds to index and list, the root package's name)."""
    t0 = time.perf_counter()
    ws = Workspace([project], vars=user_vars)
    ws.load()
    proj = sorted((p for p in ws.projects.values() if p.index is not None), key=lambda p: len(p.dir))[0]
    assert proj.index is not None
    doc = list_index(proj.index, {p: v.text for p, v in ws.cache.items()})
    return doc, time.perf_counter() - t0, proj.index.name


def run_dbt_parse(project: str, dbt_vars: str) -> tuple[int, float]:
    env = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false", DBT_PARTIAL_PARSE="false")
    cmd = [DBT, "parse", "--no-partial-parse", "--profiles-dir", project]
    if dbt_vars:
        cmd += ["--vars", dbt_vars]
    t0 = time.perf_counter()
    with open(os.path.join(project, "parse.log"), "w", encoding="utf-8") as log:
        rc = subprocess.run(cmd, cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    return rc.returncode, time.perf_counter() - t0


def causes(manifest: dict[str, Any], res: Parity) -> collections.Counter[str]:
    nodes = manifest.get("nodes") or {}
    out: collections.Counter[str] = collections.Counter()
    for child, parent in res.missing_edges:
        out[edge_cause(str((nodes.get(child) or {}).get("raw_code") or ""), parent)] += 1
    return out


def measure(
    project: str, manifest: dict[str, Any], user_vars: dict[str, Any], also: list[str] | None = None
) -> dict[str, Any]:
    doc, seconds, root = listing_of(project, user_vars)
    scope = [root, *(also or [])]
    res = compare(manifest, doc, packages=scope)
    kinds = collections.Counter(d.what for d in res.disagreements)
    models = sum(1 for n in (manifest.get("nodes") or {}).values() if n.get("resource_type") == "model")
    own = [
        n
        for n in [
            *(manifest.get("nodes") or {}).values(),
            *(x for v in (manifest.get("disabled") or {}).values() for x in v),
        ]
        if n.get("resource_type") == "model" and n.get("package_name") in scope
    ]
    return {
        "project": root if not also else " + ".join(scope),
        "models_enabled_in_dbt": models,
        "root_models": [sum(1 for n in own if (n.get("config") or {}).get("enabled", True)), len(own)],
        "nodes_compared": res.nodes_expected,
        "edges_expected": res.edges_expected,
        "edges_found": res.edges_found,
        "edges_missing": res.edges_expected - res.edges_found,
        "edges_missing_flagged": res.edges_flagged,
        "edges_extra": res.edges_extra,
        "edge_recall": round(res.edge_recall, 4),
        "edge_precision": round(res.edge_precision, 4),
        "exact_parent_sets": [res.parent_sets.equal, res.parent_sets.compared],
        "enabled": [res.enabled.equal, res.enabled.compared, res.enabled.unknown],
        "materialized": [res.materialized.equal, res.materialized.compared, res.materialized.unknown],
        "freshness": [res.freshness.equal, res.freshness.compared],
        "sources": [res.sources.equal, res.sources.compared],
        "missing_edge_causes": dict(causes(manifest, res).most_common()),
        "disagreements_by_kind": dict(kinds.most_common()),
        "freshlens_seconds": round(seconds, 2),
        "summary": res.summary(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.parity", description=__doc__.split("\n\n")[0])
    ap.add_argument("projects", nargs="+")
    ap.add_argument("--run-dbt", action="store_true", help="run dbt parse first (else read target/)")
    ap.add_argument("--vars", default="", help="var overrides (YAML), passed to dbt and to freshlens")
    ap.add_argument("--json", default="", help="write the figures to this file")
    ap.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="PACKAGE",
        help="compare this installed package's nodes too (a package project parsed through its own test project)",
    )
    args = ap.parse_args(argv)
    user_vars = parse_vars(args.vars)
    out = []
    for project in args.projects:
        project = os.path.abspath(project)
        fig: dict[str, Any] = {}
        if args.run_dbt:
            rc, secs = run_dbt_parse(project, args.vars)
            fig["dbt_parse_seconds"] = round(secs, 1)
            if rc != 0:
                print(f"{project}: dbt parse failed (see parse.log in the project)", file=sys.stderr)
                return 1
        path = os.path.join(project, "target", "manifest.json")
        if not os.path.exists(path):
            print(
                f"{project}: no target/manifest.json; run dbt parse first (or pass --run-dbt)",
                file=sys.stderr,
            )
            return 1
        with open(path, encoding="utf-8") as fh:
            manifest = json.load(fh)
        fig.update(measure(project, manifest, user_vars, args.also))
        out.append(fig)
        print(f"== {fig['project']} ({fig['root_models'][0]} models enabled of {fig['root_models'][1]})")
        for line in fig["summary"]:
            print("  " + line)
        print("  missing edges by cause: " + json.dumps(fig["missing_edge_causes"]))
        print("  disagreements by kind: " + json.dumps(fig["disagreements_by_kind"]))
        timing = f"freshlens {fig['freshlens_seconds']} s"
        if "dbt_parse_seconds" in fig:
            timing += f", dbt parse {fig['dbt_parse_seconds']} s"
        print("  time: " + timing)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
