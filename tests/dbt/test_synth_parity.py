"""The Jinja-heavy synthetic project (bench/synth.py, 30% of models need a render) against real
``dbt parse``: nodes, enabled, every edge, materialized and freshness must match exactly, as on the
plain variant — the same comparison ``bench/parity.py`` runs on real projects."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from dbtdiff import DBT, DBT_TIMEOUT_S, REPO, DbtRun, dbt_env

from freshlens.listing import list_index
from freshlens.parity import compare
from freshlens.workspace import Workspace

pytestmark = [
    pytest.mark.dbt,
    pytest.mark.skipif(not DBT.exists(), reason="real dbt not installed: run scripts/setup.sh"),
]


@pytest.mark.parametrize("jinja", [True, False], ids=["jinja-heavy", "plain"])
def test_synthetic_project_matches_dbt_parse(tmp_path: Path, jinja: bool) -> None:
    sys.path.insert(0, str(REPO))
    from bench import synth

    root = tmp_path / "proj"
    synth.generate(str(root), 300, jinja=jinja)
    proc = subprocess.run(
        [str(DBT), "parse", "--no-partial-parse", "--profiles-dir", str(root)],
        cwd=root,
        env=dbt_env(),
        capture_output=True,
        text=True,
        timeout=DBT_TIMEOUT_S,
        check=False,
    )
    run = DbtRun(proc.returncode, 0.0, proc.stdout + proc.stderr)
    assert run.verdict == "accepts", run.problem_lines()
    manifest = json.loads((root / "target" / "manifest.json").read_text(encoding="utf-8"))
    ws = Workspace([str(root)])
    ws.load()
    (proj,) = ws.projects.values()
    assert proj.index is not None
    rendered = sum(1 for n in proj.index.nodes.values() if n.render is not None)
    assert (rendered > 0) == jinja
    res = compare(manifest, list_index(proj.index, {p: v.text for p, v in ws.cache.items()}))
    print("\n".join(res.summary()))
    assert res.exact, "\n".join(str(d) for d in res.disagreements[:20])
    assert not [f for f in ws.all_findings() if f.severity.label == "error"]  # dbt accepts it: no errors
