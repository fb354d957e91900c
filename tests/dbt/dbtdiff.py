"""Helpers shared by the tests in tests/dbt: run real dbt from ``.venv-dbt`` and ``freshlens check``.

Imported as a plain module (pytest puts this folder on ``sys.path``; it is deliberately not a
package, so that no ``dbt`` package shadows dbt-core).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

REPO = Path(__file__).resolve().parents[2]
DBT = REPO / ".venv-dbt" / "bin" / "dbt"
FRESHLENS_PY = REPO / ".venv" / "bin" / "python"
DBT_TIMEOUT_S = 300

Verdict = Literal["accepts", "rejects"]


@dataclass
class DbtRun:
    returncode: int
    seconds: float
    output: str
    verdict: Verdict = field(init=False)

    def __post_init__(self) -> None:
        self.verdict = "accepts" if self.returncode == 0 else "rejects"

    def problem_lines(self) -> str:
        keep = [ln for ln in self.output.splitlines() if "Error" in ln or "error" in ln or "WARN" in ln]
        return "\n".join(keep[:12]) or self.output[-2000:]


def write_files(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def dbt_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DBT_USE_COLORS="false",
        DBT_PARTIAL_PARSE="false",
        DBT_STATIC_PARSER="true",
        DBT_VERSION_CHECK="false",
    )
    env.pop("DBT_PROFILES_DIR", None)
    env.pop("DBT_PROJECT_DIR", None)
    return env


def run_dbt_parse(project_dir: Path) -> DbtRun:
    start = time.monotonic()
    proc = subprocess.run(
        [str(DBT), "parse", "--no-partial-parse", "--profiles-dir", str(project_dir)],
        cwd=project_dir,
        env=dbt_env(),
        capture_output=True,
        text=True,
        timeout=DBT_TIMEOUT_S,
        check=False,
    )
    return DbtRun(proc.returncode, time.monotonic() - start, proc.stdout + proc.stderr)


def run_freshlens(project_dir: Path) -> tuple[int, dict[str, Any], str]:
    python = FRESHLENS_PY if FRESHLENS_PY.exists() else Path(sys.executable)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "server"), env.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        # Run from the project: `file` in the JSON is relative to the current folder.
        [str(python), "-m", "freshlens", "check", ".", "--format", "json"],
        cwd=project_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    try:
        payload: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        payload = {}
    return proc.returncode, payload, proc.stderr
