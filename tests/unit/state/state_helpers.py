"""Helpers shared by the state tests (a plain module: importing from conftest is fragile)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

ARTIFACTS = Path(__file__).resolve().parents[2] / "fixtures" / "artifacts"


def copy_run(src: str, dest: Path, *, manifest_from: str | None = None) -> Path:
    """Copy a fixture run dir to ``dest`` (optionally taking manifest.json from another run)."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in (ARTIFACTS / src).glob("*.json"):
        shutil.copy(f, dest / f.name)
    if manifest_from is not None:
        shutil.copy(ARTIFACTS / manifest_from / "manifest.json", dest / "manifest.json")
    return dest


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data))
