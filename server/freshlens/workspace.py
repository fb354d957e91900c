"""The facade the CLI and the language server use: projects, parsed-file cache, findings.

Each file is parsed once and cached by path; an edit re-parses that one file and relinks the
project from the cache (no I/O, no re-parsing of the rest), then re-runs the rules and reports
which files' findings changed.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from freshlens import warmstart
from freshlens.index import PackageFiles, ProjectIndex, build_index, refresh_node, refresh_props
from freshlens.model import Finding, ParseProblem, Severity, Span
from freshlens.project import discovery
from freshlens.project.files import (
    ProjectFile,
    PropsFile,
    PyFile,
    SqlFile,
    not_analysed,
    parse_project_file,
    parse_props_file,
    parse_python_file,
    parse_sql_file,
)
from freshlens.project.reading import read_project_file, read_text
from freshlens.project.yamlpos import YMap, YScalar
from freshlens.render import cache as rcache

log = logging.getLogger(__name__)

T = TypeVar("T")

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
    # package dir -> its file listing; walking the folders again is only needed when files come or go
    listings: dict[str, discovery.ResourceFiles] = field(default_factory=dict)
    # package dir -> the resource paths its dbt_project.yml gave the listing (for the warm start)
    resource_paths: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    installed: list[str] = field(default_factory=list)  # installed packages' dbt_project.yml files


@contextmanager
def _quiet_gc(freeze: bool) -> Iterator[None]:
    """Indexing makes millions of long-lived objects: don't let the cyclic GC rescan them all the time.

    Measured on 10,000 models: indexing 11.2 s with the collector on, 2.4 s without. After the first
    build (``freeze``) the survivors are frozen, so later collections skip them. Never freeze after an
    edit: ``gc.freeze()`` also freezes every object the caller holds at that moment, and frozen
    objects are never collected — in the language server, each notification's garbage cycles
    (asyncio tasks and futures, exceptions with their frames) were kept for good, about 2.4 KB per
    edit (issue 12).
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if was:
            gc.enable()


def _norm(path: str) -> str:
    return os.path.normpath(os.path.abspath(path))


class Workspace:
    def __init__(
        self,
        roots: list[str],
        overlay: dict[str, str] | None = None,
        vars: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        render_cache: bool = True,
    ) -> None:
        self.roots = [_norm(r) for r in roots]
        # the user's var overrides (dbt's --vars; the CLI's --vars, the editor's `vars` setting)
        self.vars: dict[str, Any] = dict(vars or {})
        # what env_var() may read while rendering: None = only its defaults (the user turns this on)
        self.env: dict[str, str] | None = env
        # keep renders in <project>/.freshlens/cache/ so a restart re-renders only what changed
        self.render_cache = render_cache
        self.overlay: dict[str, str] = {_norm(k): v for k, v in (overlay or {}).items()}
        self.cache: dict[str, Parsed] = {}
        self.projects: dict[str, Project] = {}
        self.severity_overrides: dict[str, str] = {}
        # which dbt engine the rules judge for: auto (require-dbt-version), core, v2 or both
        self.engine = "auto"

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
            text, problem = read_project_file(path)
        try:
            value = self._parse(path, text)
        except Exception as exc:  # our bug: never let one file stop the project, and say so on the file
            log.exception("freshlens failed to parse %s", path)
            value = None
            problem = not_analysed(path, f"freshlens failed on it ({type(exc).__name__}); please report this")
        parsed = Parsed(text, value, problem)
        self.cache[path] = parsed
        return parsed

    @staticmethod
    def _parse(path: str, text: str) -> Any:
        base = os.path.basename(path)
        if base == "dbt_project.yml":
            return parse_project_file(path, text)
        if path.endswith((".yml", ".yaml")):
            return parse_props_file(path, text)
        if path.endswith(".sql"):
            return parse_sql_file(path, text)
        if path.endswith(".py"):
            return parse_python_file(path, text)
        return None

    # -- loading ----------------------------------------------------------------------------
    def discover(self) -> list[str]:
        found: list[str] = []
        for r in self.roots:
            found.extend(discovery.find_project_files(r))
        return sorted(set(found))

    def load(self) -> None:
        with _quiet_gc(freeze=True):
            for pf in self.discover():
                self.projects.setdefault(_norm(pf), Project(_norm(pf), os.path.dirname(_norm(pf))))
            for proj in list(self.projects.values()):
                self._build(proj)

    def _package(self, project_file: str, is_root: bool, proj: Project) -> PackageFiles:
        pdir = os.path.dirname(project_file)
        pp = self.read(project_file).value
        if not isinstance(pp, ProjectFile):
            pp = parse_project_file(project_file, "")
        listings = proj.listings
        proj.resource_paths[pdir] = {
            "model_paths": pp.model_paths,
            "seed_paths": pp.seed_paths,
            "snapshot_paths": pp.snapshot_paths,
            "analysis_paths": pp.analysis_paths,
            "macro_paths": pp.macro_paths,
        }
        files = listings.get(pdir)
        if files is None:
            unsaved = tuple(
                sorted(p for p in self.overlay if p.startswith(pdir + os.sep) and not os.path.exists(p))
            )
            files = discovery.list_resource_files(
                pdir,
                pp.model_paths,
                pp.seed_paths,
                pp.snapshot_paths,
                pp.analysis_paths,
                pp.macro_paths,
                unsaved,
            )
            listings[pdir] = files
        sql = self._parsed(files.sql_models, SqlFile)
        py = self._parsed(files.py_models, PyFile)
        props = self._parsed(files.props, PropsFile)
        snaps = self._parsed(files.snapshots, SqlFile)
        macros = {p: self.read(p).text for p in files.macros}
        return PackageFiles(pp, pdir, sql, py, props, files.seeds, snaps, files.rel, is_root, macros)

    def _parsed(self, paths: list[str], kind: type[T]) -> dict[str, T]:
        """The parsed value of each file that parsed as ``kind`` (others carry their problems)."""
        out: dict[str, T] = {}
        for p in paths:
            v = self.read(p).value
            if isinstance(v, kind):
                out[p] = v
        return out

    def _build(self, proj: Project) -> None:
        try:
            started = time.time()
            proj.resource_paths.clear()
            root = self._package(proj.project_file, True, proj)
            proj.installed = [
                _norm(p) for p in discovery.installed_packages(proj.dir, root.project.packages_install_path)
            ]
            pkgs = [self._package(p, False, proj) for p in proj.installed]
            cache_path = os.path.join(proj.dir, ".freshlens", "cache", rcache.FILE_NAME)
            stored = rcache.read(cache_path) if self.render_cache else {}
            idx = build_index_with_context(root, pkgs, vars=self.vars, env=self.env, render_cache=stored)
            proj.index = idx
            if self.render_cache and idx.renderer is not None and set(idx.renderer.used) != set(stored):
                rcache.write(cache_path, idx.renderer.used)
            proj.files = {
                proj.project_file,
                *root.sql,
                *root.py,
                *root.props,
                *root.snapshots,
                *root.seeds,
                *root.macros,
            }
            proj.findings = self._check(proj)
            if self.render_cache:
                self._save_warm(proj, root.project.target_path, started)
        except Exception as exc:  # our bug: say so on dbt_project.yml instead of reporting a clean project
            log.exception("freshlens failed to index %s", proj.dir)
            from freshlens.rules.base import finding

            p = not_analysed(
                proj.project_file,
                f"freshlens failed while indexing this project ({type(exc).__name__}), so none of its "
                "files were checked; please report this",
            )
            proj.findings = {p.loc.path: [finding(p.code, p.message, p.loc, severity=p.severity)]}

    # -- warm start (see freshlens.warmstart) -------------------------------------------------
    def _settings_key(self) -> str:
        return warmstart.settings_key(self.vars, self.env, self.engine, self.severity_overrides)

    def _save_warm(self, proj: Project, target_path: str, started: float) -> None:
        if any(p.startswith(proj.dir + os.sep) for p in self.overlay):
            return  # checked with unsaved buffers: not what is on disk
        packages = {d: (proj.resource_paths[d], proj.listings[d]) for d in proj.resource_paths}

        def text_of(path: str) -> str | None:
            got = self.cache.get(path)
            return got.text if got is not None else None

        warmstart.save(
            proj.dir,
            self._settings_key(),
            packages,
            proj.installed,
            target_path,
            proj.findings,
            text_of,
            started,
        )

    def load_cached(self) -> bool:
        """Every project with the findings of its last complete check, if nothing they depend on has
        changed since (see :mod:`freshlens.warmstart`); False, and nothing loaded, otherwise.

        The projects then have findings and no index: call :meth:`load` for everything else."""
        key = self._settings_key()
        got: dict[str, dict[str, list[Finding]]] = {}
        for pf in self.discover():
            pf = _norm(pf)
            installed = discovery.installed_packages(os.path.dirname(pf), self._install_path(pf))
            found = warmstart.load(os.path.dirname(pf), key, [_norm(p) for p in installed])
            if found is None:
                return False
            got[pf] = found
        if not got:
            return False
        for pf, found in got.items():
            proj = self.projects.setdefault(pf, Project(pf, os.path.dirname(pf)))
            proj.findings = found
        return True

    def _install_path(self, project_file: str) -> str:
        pp = self.read(project_file).value
        return pp.packages_install_path if isinstance(pp, ProjectFile) else "dbt_packages"

    def _check(self, proj: Project, scope: frozenset[str] | None = None) -> dict[str, list[Finding]]:
        from freshlens.rules import run_rules

        assert proj.index is not None
        files = proj.files if scope is None else scope
        out: dict[str, list[Finding]] = {p: [] for p in files}
        problems: list[ParseProblem] = []
        for p in files:
            parsed = self.cache.get(p)
            if parsed is None:
                continue
            if parsed.read_problem:
                problems.append(parsed.read_problem)
            v = parsed.value
            if v is not None and hasattr(v, "problems"):
                problems.extend(v.problems)
        findings = run_rules(proj.index, problems, scope, self.engine)
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
        seen: dict[str, set[Finding]] = {}  # a file in two projects: each finding once (a set: a
        # list membership test made a file with 5,000 findings take 14 s, found by tests/fuzz)
        for proj in self.projects.values():
            for path, lst in proj.findings.items():
                cur, known = out.setdefault(path, []), seen.setdefault(path, set())
                for f in lst:
                    if f not in known:
                        known.add(f)
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
        with _quiet_gc(freeze=False):
            fast = self._update_model_file(path)
            if fast is None:
                fast = self._update_props_file(path)
            if fast is not None:
                return fast
            return self._update_slow(path, text)

    def _update_props_file(self, path: str) -> set[str] | None:
        """An edit of a properties YAML that keeps its entries' names: re-derive what it describes."""
        if not path.endswith((".yml", ".yaml")) or os.path.basename(path) == "dbt_project.yml":
            return None
        projects = self.projects_for(path)
        if not projects or any(p.index is None or path not in p.index.root.props for p in projects):
            return None
        parsed = self.read(path).value
        if not isinstance(parsed, PropsFile):
            return None
        changed: set[str] = set()
        for proj in projects:
            idx = proj.index
            assert idx is not None
            if not refresh_props(idx, path, parsed):
                return None if not changed else self._update_slow(path, None) | changed
            nodes = [n for n in idx.nodes.values() if n.props_path == path]
            scope = frozenset({path, *(n.path for n in nodes if n.path)})
            fresh = self._check(proj, scope)
            for p in scope:
                if proj.findings.get(p, []) != fresh.get(p, []):
                    changed.add(p)
                proj.findings[p] = fresh.get(p, [])
        return changed

    def _update_model_file(self, path: str) -> set[str] | None:
        """An edit of a model's own .sql/.py file: re-derive that one node and re-check its files.

        Returns None when the edit needs the full path (a file that came or went, a snapshot, …).
        """
        if not path.endswith((".sql", ".py")) or (not os.path.exists(path) and path not in self.overlay):
            return None
        projects = self.projects_for(path)
        if not projects:
            return None
        plan: list[tuple[Project, Any]] = []
        for proj in projects:
            idx = proj.index
            if idx is None or path not in proj.files:
                return None
            if path not in idx.root.sql and path not in idx.root.py:
                return None
            nodes = [n for n in idx.nodes.values() if n.path == path]
            if len(nodes) != 1:
                return None
            plan.append((proj, nodes[0]))
        parsed = self.read(path).value
        changed: set[str] = set()
        for proj, node in plan:
            idx = proj.index
            assert idx is not None
            if isinstance(parsed, SqlFile) and path in idx.root.sql:
                idx.root.sql[path] = parsed
            elif isinstance(parsed, PyFile) and path in idx.root.py:
                idx.root.py[path] = parsed
            else:
                return None
            refresh_node(idx, node, parsed.configs, parsed.refs)
            scope = frozenset(p for p in (path, node.props_path) if p)
            fresh = self._check(proj, scope)
            for p in scope:
                if proj.findings.get(p, []) != fresh.get(p, []):
                    changed.add(p)
                proj.findings[p] = fresh.get(p, [])
        return changed

    def _update_slow(self, path: str, text: str | None) -> set[str]:
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
        came_or_went = text is None and not os.path.exists(path)
        for proj in affected:
            if (
                came_or_went
                or path not in proj.files
                or os.path.basename(path) in ("dbt_project.yml", ".dbtignore")
            ):
                proj.listings.clear()  # files came or went, or the paths changed: walk again
            self._build(proj)
        after = self.findings()
        changed = {p for p in set(before) | set(after) if before.get(p, []) != after.get(p, [])}
        return changed

    def set_roots(self, roots: list[str]) -> set[str]:
        """The editor's workspace folders changed: index the projects of new roots, drop the others.

        Returns the files whose findings changed (a dropped project's files go back to no findings).
        """
        before = self.findings()
        self.roots = [_norm(r) for r in roots]
        keep = {_norm(pf) for pf in self.discover()}
        for key in [k for k in self.projects if k not in keep]:
            gone = self.projects.pop(key)
            for path in gone.files - set(self.overlay):  # not watched any more: read again if re-added
                self.cache.pop(path, None)
        with _quiet_gc(freeze=False):
            for pf in sorted(keep - set(self.projects)):
                proj = self.projects[pf] = Project(pf, os.path.dirname(pf))
                self._build(proj)
        after = self.findings()
        return {p for p in set(before) | set(after) if before.get(p, []) != after.get(p, [])}

    def close_file(self, path: str) -> set[str]:
        """The editor closed a file: fall back to the disk version."""
        path = _norm(path)
        if path not in self.overlay:
            return set()
        return self.update_file(path, None)


# ------------------------------------------------------------------------------------------------
# project context: adapter type (profiles.yml) and relation types (catalog.json)


def build_index_with_context(
    root: PackageFiles,
    pkgs: list[PackageFiles],
    vars: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    render_cache: dict[str, Any] | None = None,
) -> ProjectIndex:
    catalog = read_catalog_types(os.path.join(root.dir, root.project.target_path, "catalog.json"))
    target = profile_target(root.dir, root.project.profile)
    idx = build_index(root, pkgs, vars=vars, target=target, env=env, render_cache=render_cache)
    idx.adapter_type = target.get("type")
    if catalog:
        idx.catalog_types = catalog
        for uid, st in idx.sources.items():
            st.relation_type = catalog.get(uid)
    return idx


def adapter_type(project_dir: str, profile: str | None) -> str | None:
    """The adapter ``type`` of the profile's default target, from a ``profiles.yml`` we can see."""
    got = profile_target(project_dir, profile).get("type")
    return got if isinstance(got, str) else None


# Fields of a profile's target that parse-time Jinja may read (``target.name``, ``target.type`` …);
# credentials are never read.
_TARGET_FIELDS = (
    "type",
    "schema",
    "database",
    "dataset",
    "project",
    "catalog",
    "threads",
    "host",
    "port",
    "user",
)


def profile_target(project_dir: str, profile: str | None) -> dict[str, Any]:
    """Known fields of the profile's default target (as dbt finds profiles.yml); {} when not found.

    Looks in the project folder, then ``DBT_PROFILES_DIR``, then ``~/.dbt``. A value written with Jinja
    (``"{{ env_var('…') }}"``) is left out: unknown, never guessed.
    """
    if not profile:
        return {}
    for node in discovery.profiles_documents(project_dir):
        prof = node.get(profile)
        if not isinstance(prof, YMap):
            continue
        outputs = prof.get("outputs")
        target = prof.get("target")
        tname = target.value if isinstance(target, YScalar) and isinstance(target.value, str) else None
        if tname is not None and "{{" in tname:
            tname = None
        out: YMap | None = None
        if isinstance(outputs, YMap):
            got = outputs.get(tname) if tname else None
            if isinstance(got, YMap):
                out = got
            elif outputs.items and isinstance(outputs.items[0].value, YMap):
                out = outputs.items[0].value
        fields: dict[str, Any] = {"profile_name": profile}
        if tname is not None:
            fields["name"] = tname
            fields["target_name"] = tname
        if out is not None:
            for key in (*_TARGET_FIELDS, "path"):
                v = out.get(key)
                if (
                    isinstance(v, YScalar)
                    and v.value is not None
                    and not (isinstance(v.value, str) and "{{" in v.value)
                ):
                    fields[key] = v.value
            path = fields.pop("path", None)
            if fields.get("type") == "duckdb" and "database" not in fields and isinstance(path, str):
                # dbt-duckdb names the database after the file (":memory:" is "memory")
                stem = os.path.splitext(os.path.basename(path))[0]
                fields["database"] = "memory" if path == ":memory:" else stem
        return fields
    return {}


def read_catalog_types(path: str) -> dict[str, str]:
    try:
        data = json.loads(read_text(path, None))  # catalog.json is generated: no size limit
    except (OSError, ValueError, RecursionError):
        return {}
    out: dict[str, str] = {}
    if not isinstance(data, dict):
        return out
    for section in ("sources", "nodes"):
        entries = data.get(section)
        if not isinstance(entries, dict):
            continue
        for uid, entry in entries.items():
            try:
                out[uid] = str(entry["metadata"]["type"]).upper()
            except (KeyError, TypeError):
                continue
    return out


_KEPT: list[Workspace] = []


def keep_until_exit(ws: Workspace) -> Workspace:
    """Keep ``ws`` alive until the process ends (the one kept before is let go).

    A command-line run then ends with ``os._exit`` (``freshlens.cli.main``) instead of freeing the
    index's millions of objects one by one, which took 0.2-0.3 s of a 10,000-model ``check``.
    """
    _KEPT[:] = [ws]
    return ws
