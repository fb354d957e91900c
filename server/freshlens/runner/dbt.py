"""The user's dbt, as ``freshlens run`` calls it: find the executable, check its version, run it.

Found on ``--dbt``, else in the active virtualenv (``$VIRTUAL_ENV/bin/dbt``), else on ``PATH``. The
version comes from the dbt-core package metadata of the interpreter the ``dbt`` script starts (well
under a second); ``dbt --version`` is the fallback for a dbt that is not a Python script, because it
also asks PyPI for the latest release, which takes 10 s or more on a machine without internet.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MIN_VERSION = (1, 8)

# Options of DBT_ARGS that also apply to `dbt source freshness` and `dbt ls` (connection and project
# settings); the rest (--full-refresh, --fail-fast, --threads …) go to `dbt build` only.
SHARED_OPTIONS = frozenset({"--target", "-t", "--profiles-dir", "--profile", "--vars", "--target-path"})


class DbtError(Exception):
    """dbt cannot be used: not found, not runnable, or too old. The message says what to do."""


@dataclass(frozen=True, slots=True)
class Dbt:
    path: str
    version: str  # dbt-core version, e.g. "1.11.16"

    def command(self, *args: str) -> list[str]:
        return [self.path, *args]


def find_dbt(explicit: str = "") -> str:
    """The dbt executable to use (see the module docs), or DbtError saying where it looked."""
    if explicit:
        p = Path(explicit).expanduser()
        if p.is_dir():
            p = p / ("dbt.exe" if os.name == "nt" else "dbt")
        if not p.is_file() or not os.access(p, os.X_OK):
            raise DbtError(f"--dbt {explicit}: no executable dbt there")
        return str(p.absolute())
    venv = os.environ.get("VIRTUAL_ENV", "")
    if venv:
        for cand in (Path(venv) / "bin" / "dbt", Path(venv) / "Scripts" / "dbt.exe"):
            if cand.is_file() and os.access(cand, os.X_OK):
                return str(cand)
    found = shutil.which("dbt")
    if found:
        return found
    raise DbtError(
        "dbt not found: give its path with --dbt, activate the virtualenv that has dbt-core and your "
        "adapter, or put dbt on PATH"
    )


def _script_python(path: str) -> str | None:
    """The interpreter of a pip-installed ``dbt`` script (its #! line), if it is one."""
    try:
        with open(path, "rb") as fh:
            first = fh.readline(512).decode("utf-8", "replace").strip()
    except OSError:
        return None
    if not first.startswith("#!"):
        return None
    cmd = first[2:].strip().split()
    if not cmd:
        return None
    py = cmd[-1] if cmd[0].endswith("env") and len(cmd) > 1 else cmd[0]
    return py if "python" in os.path.basename(py) else None


_VERSION_CODE = "from importlib.metadata import version; print(version('dbt-core'))"


def identify_dbt(path: str, env: dict[str, str]) -> tuple[str, bool]:
    """(version, is the dbt Fusion engine) of the dbt at ``path``; DbtError if it cannot be told."""
    py = _script_python(path)
    if py is not None:
        proc = subprocess.run(
            [py, "-c", _VERSION_CODE], capture_output=True, text=True, env=env, timeout=60, check=False
        )
        if proc.returncode == 0 and proc.stdout.strip():
            return proc.stdout.strip(), False
    try:
        proc = subprocess.run(
            [path, "--version"], capture_output=True, text=True, env=env, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DbtError(f"{path}: cannot run it ({exc})") from None
    text = proc.stdout + proc.stderr
    if "fusion" in text.lower():
        m = re.search(r"(\d+\.\d+\.\d+\S*)", text)
        return (m.group(1) if m else "unknown"), True
    m = re.search(r"installed:\s*v?(\d+\.\d+\.\d+\S*)", text)
    if not m:
        raise DbtError(f"{path} --version did not say which dbt-core it is:\n{text.strip()[:500]}")
    return m.group(1), False


def dbt_version(path: str, env: dict[str, str]) -> str:
    """The dbt-core version of the dbt at ``path`` (DbtError if it cannot be read, or for Fusion)."""
    version, fusion = identify_dbt(path, env)
    if fusion:
        raise DbtError(
            f"{path} is the dbt Fusion engine, which orchestrates state-aware runs itself; "
            "freshlens run drives dbt Core (1.8 or later)"
        )
    return version


def parse_version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


def resolve_dbt(explicit: str, env: dict[str, str]) -> Dbt:
    path = find_dbt(explicit)
    version = dbt_version(path, env)
    if parse_version(version)[:2] < MIN_VERSION:
        raise DbtError(
            f"{path} is dbt-core {version}, which freshlens run does not support: it needs dbt-core "
            f"{'.'.join(map(str, MIN_VERSION))} or later (source freshness artifacts and `dbt ls` output "
            "changed before that). Upgrade dbt-core, or point --dbt at a newer one."
        )
    return Dbt(path, version)


def dbt_env() -> dict[str, str]:
    """The environment dbt runs in: the user's, minus anonymous usage stats and the PyPI version check."""
    env = dict(os.environ)
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    env.setdefault("DBT_VERSION_CHECK", "false")
    return env


def shared_args(dbt_args: list[str]) -> list[str]:
    """The DBT_ARGS that ``dbt source freshness`` and ``dbt ls`` get too (see SHARED_OPTIONS)."""
    out: list[str] = []
    i = 0
    while i < len(dbt_args):
        a = dbt_args[i]
        name = a.split("=", 1)[0]
        if name in SHARED_OPTIONS:
            if "=" in a:
                out.append(a)
            elif i + 1 < len(dbt_args):
                out.extend((a, dbt_args[i + 1]))
                i += 1
        i += 1
    return out


def target_dir(project_dir: str, dbt_args: list[str], env: dict[str, str]) -> str:
    """Where dbt writes its artifacts: --target-path, DBT_TARGET_PATH, or <project>/target."""
    path = env.get("DBT_TARGET_PATH", "") or "target"
    for i, a in enumerate(dbt_args):
        if a == "--target-path" and i + 1 < len(dbt_args):
            path = dbt_args[i + 1]
        elif a.startswith("--target-path="):
            path = a.split("=", 1)[1]
    return path if os.path.isabs(path) else os.path.join(project_dir, path)


def run_dbt(cmd: list[str], cwd: str, env: dict[str, str], echo: bool) -> int:
    """Run dbt in the project folder; its output goes to ours (stderr when ``echo`` is False, so a
    JSON report on stdout stays clean). Returns dbt's exit code; Ctrl-C stops dbt and is re-raised."""
    out = None if echo else sys.stderr
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.wait()
        raise
