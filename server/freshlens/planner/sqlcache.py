"""What the planner learnt from parsing SQL, kept on disk so a restart parses nothing it parsed before.

dbt State rebuilds a view that selects ``*`` straight from a relation (R18), so the planner parses
every view with a ``*`` (sqlglot, :func:`freshlens.sql.star_report`): about a millisecond each, three
seconds for the 3,000 views of a 10,000-model project, on every start. The reports are a few bytes:
``<project>/.freshlens/cache/sql-v1.json`` keeps them by the SHA-256 of the SQL and the adapter, with
freshlens' and sqlglot's versions (another version of either: nothing is reused). JSON, safe to delete,
written atomically, ignored when unreadable.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from importlib.metadata import PackageNotFoundError, version

from freshlens import __version__
from freshlens.sql import structure
from freshlens.sql.structure import StarReport, StarUse

FORMAT = 1
FILE_NAME = f"sql-v{FORMAT}.json"
MAX_ENTRIES = 100_000
_loaded: set[str] = set()  # project folders whose file was read in this process


def _versions() -> str:
    try:
        sg = version("sqlglot")
    except PackageNotFoundError:  # pragma: no cover - sqlglot is a dependency
        sg = "?"
    return f"{FORMAT}/{__version__}/{sg}"


def _path(project_dir: str) -> str:
    return os.path.join(project_dir, ".freshlens", "cache", FILE_NAME)


def _use(u: list[str]) -> StarUse:
    return StarUse(str(u[0]), str(u[1]), str(u[2]))


def load(project_dir: str) -> None:
    """Read the project's kept reports once per process (nothing when absent, stale or damaged)."""
    if project_dir in _loaded:
        return
    _loaded.add(project_dir)
    try:
        with open(_path(project_dir), encoding="utf-8") as fh:
            data = json.load(fh)
        if not isinstance(data, dict) or data.get("versions") != _versions():
            return
        for key, r in data["reports"].items():
            sha, _, adapter = key.partition("|")
            structure.KNOWN[(sha, adapter or None)] = StarReport(
                bool(r[0]), str(r[1]), bool(r[2]), tuple(_use(u) for u in r[3]), tuple(_use(u) for u in r[4])
            )
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return


def save(project_dir: str) -> None:
    """Keep the reports made in this process (with those read), when there are new ones."""
    if not structure.MADE:
        return
    structure.KNOWN.update(structure.MADE)
    structure.MADE.clear()
    items = list(structure.KNOWN.items())[-MAX_ENTRIES:]
    reports = {
        f"{sha}|{adapter or ''}": [
            r.parsed,
            r.problem,
            r.flattened,
            [[u.text, u.relation, u.over] for u in r.direct],
            [[u.text, u.relation, u.over] for u in r.over],
        ]
        for (sha, adapter), r in items
    }
    path = _path(project_dir)
    with contextlib.suppress(OSError):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".sql-", dir=os.path.dirname(path))
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(json.dumps({"versions": _versions(), "reports": reports}, separators=(",", ":")))
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
