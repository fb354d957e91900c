"""The facade the CLI and the language server use: projects, parsed-file cache, findings.

Each file is parsed once and cached by path; an edit re-parses that one file and relinks the
project from the cache (no I/O, no re-parsing of the rest), then re-runs the rules and reports
which files' findings changed.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from freshlens.index import PackageFiles, ProjectIndex, build_index
from freshlens.model import Finding, Loc, ParseProblem, Severity, Span
from freshlens.project import discovery
from freshlens.project.files import (
    ProjectFile,
    PropsFile,
    PyFile,
    SqlFile,
    parse_project_file,
    parse_props_file,
    parse_python_file,
    parse_sql_file,
)
from freshlens.project.text import decode
from freshlens.project.yamlpos import YamlError, YMap, parse_yaml

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 5 * 1024 * 1024

Reader = Callable[[str], "str | None"]


@dataclass(slots=True)
class Parsed:
    text: str
    value: Any  # ProjectFile | PropsFile | SqlFile | PyFile | None
    read_problem: ParseProblem | None = None


@dataclass(slots=True)
class Project:
    """A discovered project: its parsed files (by role) and its current index and findings."""

    project_file: str
    dir: str
    index: ProjectIndex | None = None
    findings: dict[str, list[Finding]] = field(default_factory=dict)
    files: set[str] = field(default_factory=set)


def _norm(path: str) -> str:
    return os.path.normpath(os.path.abspath(path))


class Workspace:
    def __init__(self, roots: list[str], overlay: dict[str, str] | None = None) -> None:
        self.roots = [_norm(r) for r in roots]
        self.overlay: dict[str, str] = {_norm(k): v for k, v in (overlay or {}).items()}
        self.cache: dict[str, Parsed] = {}
        self.projects: dict[str, Project] = {}
        self.severity_overrides: dict[str, str] = {}

    # -- reading ----------------------------------------------------------------------------
    def read(self, path: str) -> Parsed:
        path = _norm(path)
        got = self.cache.get(path)
        if got is not None:
            return got
        problem = None
        if path in self.overlay:
            text = self.overlay[path]
        else:
            try:
                size = os.path.getsize(path)
                if size > MAX_FILE_BYTES:
                    text = ""
                    problem = ParseProblem(
                        "FL008",
                        f"this file is {size // 1024 // 1024} MB; freshlens skips files over "
                        f"{MAX_FILE_BYTES // 1024 // 1024} MB. Split it if it holds dbt configs.",
                        Loc(path, Span(0, 0, 0, 0)),
                        Severity.WARNING,
                    )
                else:
                    with open(path, "rb") as fh:
                        text, why = decode(fh.read())
                    if why:
                        problem = ParseProblem("FL008", why, Loc(path, Span(0, 0, 0, 1)))
            except OSError as exc:
                text = ""
                problem = ParseProblem(
                    "FL008",
                    f"cannot read this file ({exc.strerror}); check its permissions",
                    Loc(path, Span(0, 0, 0, 0)),
                )
        parsed = Parsed(text, self._parse(path, text), problem)
        self.cache[path] = parsed
        return parsed

    def _parse(self, path: str, text: str) -> Any:
        base = os.path.basename(path)
        try:
            if base == "dbt_project.yml":
                return parse_project_file(path, text)
            if path.endswith((".yml", ".yaml")):
                return parse_props_file(path, text)
            if path.endswith(".sql"):
                return parse_sql_file(path, text)
            if path.endswith(".py"):
                return parse_python_file(path, text)
        except Exception:  # our bug: never let one file stop the project
            log.exception("freshlens failed to parse %s", path)
        return None

    # -- loading ----------------------------------------------------------------------------
    def discover(self) -> list[str]:
        found: list[str] = []
        for r in self.roots:
            found.extend(discovery.find_project_files(r))
        return sorted(set(found))

    def load(self) -> None:
        for pf in self.discover():
            self.projects.setdefault(_norm(pf), Project(_norm(pf), os.path.dirname(_norm(pf))))
        for proj in list(self.projects.values()):
            self._build(proj)

    def _package(self, project_file: str, is_root: bool) -> PackageFiles:
        pdir = os.path.dirname(project_file)
        pp = self.read(project_file).value
        if not isinstance(pp, ProjectFile):
            pp = parse_project_file(project_file, "")
        files = discovery.list_resource_files(
            pdir, pp.model_paths, pp.seed_paths, pp.snapshot_paths, pp.analysis_paths
        )
        sql: dict[str, SqlFile] = {}
        py: dict[str, PyFile] = {}
        props: dict[str, PropsFile] = {}
        snaps: dict[str, SqlFile] = {}
        for p in files.sql_models:
            v = self.read(p).value
            if isinstance(v, SqlFile):
                sql[p] = v
        for p in files.py_models:
            v = self.read(p).value
            if isinstance(v, PyFile):
                py[p] = v
        for p in files.props:
            v = self.read(p).value
            if isinstance(v, PropsFile):
                props[p] = v
        for p in files.snapshots:
            v = self.read(p).value
            if isinstance(v, SqlFile):
                snaps[p] = v
        return PackageFiles(pp, pdir, sql, py, props, files.seeds, snaps, files.rel, is_root)

    def _build(self, proj: Project) -> None:
        try:
            root = self._package(proj.project_file, True)
            pkgs = [
                self._package(_norm(p), False)
                for p in discovery.installed_packages(proj.dir, root.project.packages_install_path)
            ]
            idx = build_index_with_context(root, pkgs)
            proj.index = idx
            proj.files = {proj.project_file, *root.sql, *root.py, *root.props, *root.snapshots, *root.seeds}
            proj.findings = self._check(proj)
        except Exception:
            log.exception("freshlens failed to index %s", proj.dir)
            proj.findings = {}

    def _check(self, proj: Project) -> dict[str, list[Finding]]:
        from freshlens.rules import run_rules

        assert proj.index is not None
        out: dict[str, list[Finding]] = {p: [] for p in proj.files}
        problems: list[ParseProblem] = []
        for p in proj.files:
            parsed = self.cache.get(p)
            if parsed is None:
                continue
            if parsed.read_problem:
                problems.append(parsed.read_problem)
            v = parsed.value
            if v is not None and hasattr(v, "problems"):
                problems.extend(v.problems)
        findings = run_rules(proj.index, problems)
        seen: set[tuple[str, str, Span, str]] = set()
        for raw in findings:
            f = self._apply_override(raw)
            if f is None:
                continue
            k = (f.loc.path, f.code, f.loc.span, f.message)
            if k in seen:
                continue
            seen.add(k)
            out.setdefault(f.loc.path, []).append(f)
        for lst in out.values():
            lst.sort(key=Finding.sort_key)
        return out

    def _apply_override(self, f: Finding) -> Finding | None:
        o = self.severity_overrides.get(f.code)
        if not o:
            return f
        if o == "off":
            return None
        sev = {
            "error": Severity.ERROR,
            "warning": Severity.WARNING,
            "information": Severity.INFORMATION,
            "info": Severity.INFORMATION,
            "hint": Severity.HINT,
        }.get(o)
        if sev is None:
            return f
        return Finding(f.code, sev, f.message, f.loc, f.rule, f.related, f.data)

    # -- queries ----------------------------------------------------------------------------
    def findings(self) -> dict[str, list[Finding]]:
        out: dict[str, list[Finding]] = {}
        for proj in self.projects.values():
            for path, lst in proj.findings.items():
                cur = out.setdefault(path, [])
                for f in lst:
                    if f not in cur:
                        cur.append(f)
        return out

    def all_findings(self) -> list[Finding]:
        return sorted((f for lst in self.findings().values() for f in lst), key=Finding.sort_key)

    def projects_for(self, path: str) -> list[Project]:
        path = _norm(path)
        out = [p for p in self.projects.values() if path in p.files]
        if not out:
            out = [p for p in self.projects.values() if path.startswith(p.dir + os.sep)]
        return out

    # -- edits ------------------------------------------------------------------------------
    def update_file(self, path: str, text: str | None) -> set[str]:
        """A file was opened/changed (``text``) or changed on disk / deleted (``None``).

        Returns the files whose findings changed (publish diagnostics for each of them).
        """
        path = _norm(path)
        if text is None:
            self.overlay.pop(path, None)
        else:
            if self.overlay.get(path) == text and path in self.cache:
                return set()
            self.overlay[path] = text
        self.cache.pop(path, None)
        before = self.findings()
        if os.path.basename(path) == "dbt_project.yml":
            exists = text is not None or os.path.exists(path)
            if exists and path not in self.projects:
                self.projects[path] = Project(path, os.path.dirname(path))
            if not exists:
                self.projects.pop(path, None)
        affected = self.projects_for(path) or []
        if not affected and os.path.basename(path) == "dbt_project.yml" and path in self.projects:
            affected = [self.projects[path]]
        for proj in affected:
            self._build(proj)
        after = self.findings()
        changed = {p for p in set(before) | set(after) if before.get(p, []) != after.get(p, [])}
        return changed

    def close_file(self, path: str) -> set[str]:
        """The editor closed a file: fall back to the disk version."""
        path = _norm(path)
        if path not in self.overlay:
            return set()
        return self.update_file(path, None)


# ------------------------------------------------------------------------------------------------
# project context: adapter type (profiles.yml) and relation types (catalog.json)


def build_index_with_context(root: PackageFiles, pkgs: list[PackageFiles]) -> ProjectIndex:
    catalog = read_catalog_types(os.path.join(root.dir, root.project.target_path, "catalog.json"))
    idx = build_index(root, pkgs)
    idx.adapter_type = adapter_type(root.dir, root.project.profile)
    if catalog:
        idx.catalog_types = catalog
        for uid, st in idx.sources.items():
            st.relation_type = catalog.get(uid)
    return idx


def adapter_type(project_dir: str, profile: str | None) -> str | None:
    """The adapter ``type`` of the profile's default target, from a ``profiles.yml`` we can see."""
    if not profile:
        return None
    candidates = [os.path.join(project_dir, "profiles.yml")]
    env = os.environ.get("DBT_PROFILES_DIR")
    if env:
        candidates.append(os.path.join(env, "profiles.yml"))
    candidates.append(os.path.join(os.path.expanduser("~"), ".dbt", "profiles.yml"))
    for c in candidates:
        try:
            with open(c, encoding="utf-8") as fh:
                node = parse_yaml(fh.read())
        except (OSError, YamlError, UnicodeDecodeError):
            continue
        if not isinstance(node, YMap):
            continue
        prof = node.get(profile)
        if not isinstance(prof, YMap):
            continue
        outputs = prof.get("outputs")
        target = prof.get("target")
        tname = target.value if target is not None and hasattr(target, "value") else None
        if isinstance(outputs, YMap):
            out = outputs.get(str(tname)) if tname else None
            if not isinstance(out, YMap) and outputs.items:
                first = outputs.items[0].value
                out = first if isinstance(first, YMap) else None
            if isinstance(out, YMap):
                t = out.get("type")
                if t is not None and hasattr(t, "value") and isinstance(t.value, str) and "{{" not in t.value:
                    return t.value
        return None
    return None


def read_catalog_types(path: str) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    out: dict[str, str] = {}
    for section in ("sources", "nodes"):
        for uid, entry in (data.get(section) or {}).items():
            try:
                out[uid] = str(entry["metadata"]["type"]).upper()
            except (KeyError, TypeError):
                continue
    return out
