"""Fuzzing the whole-project load (issue 12): every file gets an answer.

A copy of an example project with a few of its files replaced by mutated real files (any bytes, on
disk) is loaded with ``Workspace([...]).load()`` and ``all_findings()``. Property: nothing raises,
the load ends within fuzzkit.BOUND_S, the safety net for our own bugs ("freshlens failed …; please
report this") never fires, and each project file is either parsed clean or has findings — a problem
met while reading a file is never dropped on the way to the user.
"""

from __future__ import annotations

import gc
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fuzzkit import PY_SEEDS, REPO, SQL_SEEDS, YAML_SEEDS, bounded, mutated
from hypothesis import given
from hypothesis import strategies as st

from freshlens.workspace import Workspace

BASES = [REPO / "examples" / "jaffle_fresh", REPO / "examples" / "mistakes"]
_IGNORE = shutil.ignore_patterns("target", "logs", "dbt_packages", "*.duckdb*", ".user.yml")


def _files(base: Path) -> list[str]:
    return sorted(
        str(p.relative_to(base))
        for p in base.rglob("*")
        if p.is_file()
        and p.suffix in {".yml", ".yaml", ".sql", ".py"}
        and p.name != "profiles.yml"
        and not {"target", "logs", "dbt_packages"} & set(p.relative_to(base).parts)
    )


FILES = {b: _files(b) for b in BASES}


@st.composite
def project_edits(draw: Callable[..., Any]) -> tuple[Path, dict[str, bytes]]:
    """An example project and 1–3 of its files (or new ones) with mutated contents."""
    base = draw(st.sampled_from(BASES))
    edits: dict[str, bytes] = {}
    for _ in range(draw(st.integers(1, 3))):
        rel = draw(st.sampled_from([*FILES[base], "models/new.sql", "models/new.yml", "models/new.py"]))
        pool = YAML_SEEDS if rel.endswith((".yml", ".yaml")) else PY_SEEDS or SQL_SEEDS
        if rel.endswith(".sql"):
            pool = SQL_SEEDS
        edits[rel] = draw(mutated(pool))
    return base, edits


@given(project_edits())
def test_every_file_gets_an_answer(case: tuple[Path, dict[str, bytes]]) -> None:
    base, edits = case
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "p"
        shutil.copytree(base, root, ignore=_IGNORE)
        for rel, data in edits.items():
            (root / rel).write_bytes(data)
        ws = Workspace([str(root)])
        try:
            findings = bounded(lambda: (ws.load(), ws.all_findings())[1])
        finally:
            gc.unfreeze()  # load() freezes what survives indexing: let every example's garbage go
        for f in findings:
            assert "please report this" not in f.message, (f.loc.path, f.message)
        by_file = ws.findings()
        for proj in ws.projects.values():
            for path in proj.files:
                parsed = ws.cache.get(path)
                if parsed is None or not path.endswith((".yml", ".yaml", ".sql", ".py")):
                    continue
                problems = [
                    *([parsed.read_problem] if parsed.read_problem else []),
                    *getattr(parsed.value, "problems", []),
                ]
                assert parsed.value is not None or problems, f"{path}: neither parsed nor reported"
                if problems:
                    assert by_file.get(path), f"{path}: {[p.code for p in problems]} read but not reported"
