"""What a path on the command line means: which project to load and which files to report.

A newcomer runs ``freshlens check`` from anywhere: on a folder inside a project (that project is
checked and only that folder reported), on one file (its project is checked, only it reported), on
a folder holding several projects (all of them). A path that belongs to no dbt project is an error
that says so, never "0 findings". ``plan``/``explain`` need exactly one project and name the
candidates when there are several.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from freshlens.project import discovery

T = TypeVar("T")


class TargetError(Exception):
    """A path the user gave that does not lead to a dbt project (exit status 2)."""


def project_dir_of(path: str) -> str | None:
    """The folder of the nearest ``dbt_project.yml`` at or above ``path`` (a file or folder)."""
    d = os.path.abspath(path)
    if not os.path.isdir(d):
        d = os.path.dirname(d)
    while True:
        if os.path.isfile(os.path.join(d, "dbt_project.yml")):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


@dataclass(slots=True)
class CheckTargets:
    folders: list[str]  # what to load
    report: list[str]  # report findings in these files / under these folders


def check_targets(paths: list[str]) -> CheckTargets:
    folders: list[str] = []
    report: list[str] = []
    for raw in paths:
        p = os.path.abspath(raw)
        if os.path.isdir(p) and discovery.find_project_files(p):
            folders.append(p)
            report.append(p)
            continue
        home = project_dir_of(p)
        if home is None:
            what = "folder" if os.path.isdir(p) else "file"
            raise TargetError(
                f"{raw}: this {what} belongs to no dbt project (no dbt_project.yml in it or any folder "
                "above it); run freshlens on a dbt project or a path inside one"
            )
        folders.append(home)
        report.append(p)
    return CheckTargets(sorted(set(folders)), report)


def reported(path: str, report: list[str]) -> bool:
    return any(path == r or path.startswith(r + os.sep) for r in report)


def display_path(path: str) -> str:
    """A path relative to the current folder, so terminals and editors can open it with a click."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path


def single_project(path: str) -> str:
    """The one project ``plan``/``explain`` work on: at or above ``path``, or the only one under it."""
    home = project_dir_of(path)
    if home is not None:
        return home
    found = [os.path.dirname(p) for p in discovery.find_project_files(os.path.abspath(path))]
    if not found:
        raise TargetError(f"no dbt_project.yml found in {path} or any folder above it")
    if len(found) > 1:
        names = ", ".join(display_path(d) for d in found)
        raise TargetError(
            f"{path} holds {len(found)} dbt projects ({names}); pass the one you mean, "
            f"for example: {display_path(found[0])}"
        )
    return found[0]


def find_decision(decisions: Mapping[str, T], model: str) -> tuple[T | None, str]:
    """The decision for ``model`` (unique id, name, or ``name.vN``), or None and a hint to show.

    A versioned model has one node per version (``dim_customers.v1``, ``dim_customers.v2``): a bare
    name matches none of them, and the hint lists the versions to pick from.
    """
    got = decisions.get(model)
    if got is not None:
        return got, ""
    for uid, d in decisions.items():
        if getattr(d, "name", None) == model or uid.endswith("." + model):
            return d, ""
    versions = sorted(
        str(getattr(d, "name", ""))
        for d in decisions.values()
        if str(getattr(d, "name", "")).startswith(model + ".v")
    )
    if versions:
        return None, f"; it is a versioned model: use {' or '.join(versions)}"
    import difflib

    close = difflib.get_close_matches(
        model, sorted(str(getattr(d, "name", "")) for d in decisions.values()), n=1
    )
    return None, (f"; did you mean {close[0]}?" if close else "")
