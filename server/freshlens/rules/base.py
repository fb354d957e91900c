"""What every rule needs: the context, a finding constructor, and the places configs are written."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from freshlens.index import ProjectIndex, Setting, call_settings, config_settings
from freshlens.model import Finding, Loc, ParseProblem, Related, Severity
from freshlens.project.yamlpos import YMap, YSeq
from freshlens.rules.codes import CODES

# The config keys whose written values the rules inspect site by site.
SITE_KEYS = frozenset({"freshness", "state"})


class ScopedIndex:
    """The index seen through a set of files: only nodes, sources and references in those files.

    Used to re-check an edit: rules run unchanged, on the part of the project the edit can affect.
    """

    def __init__(self, index: ProjectIndex, scope: frozenset[str]) -> None:
        self._index = index
        self._scope = scope
        self.nodes = {uid: n for uid, n in index.nodes.items() if n.path in scope or n.props_path in scope}
        self.sources = {uid: s for uid, s in index.sources.items() if s.path in scope}
        self.unresolved = [u for u in index.unresolved if u.path in scope]
        self.dynamic_refs = [u for u in index.dynamic_refs if u.path in scope]
        self.duplicates = [(a, b) for a, b in index.duplicates if a.path in scope or b.path in scope]
        self.orphan_props = [(e, p) for e, p in index.orphan_props if p in scope]

    @property
    def whole(self) -> ProjectIndex:
        """The whole project (names to suggest, targets to resolve) behind the scoped view."""
        return self._index

    def models(self):  # type: ignore[no-untyped-def]
        return (n for n in self.nodes.values() if n.resource_type == "model")

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._index, name)


@dataclass(slots=True)
class Ctx:
    index: ProjectIndex
    problems: list[ParseProblem]
    scope: frozenset[str] | None = None
    # the engine the user says the project runs on (auto | core | v2 | both); auto = require-dbt-version
    engine: str = "auto"
    _sites: list[Site] | None = field(default=None)
    memo: dict[str, Any] = field(default_factory=dict)  # results rules share within one run

    def sites(self) -> list[Site]:
        if self._sites is None:
            self._sites = list(_config_sites(self.index, self.scope))
        return self._sites

    def in_scope(self, path: str) -> bool:
        return self.scope is None or path in self.scope

    @property
    def uses_state(self) -> bool:
        return any(s.setting.key == "state" for s in self.sites())


@dataclass(slots=True)
class Site:
    """One place a config is written, once (a dbt_project.yml key, a properties entry, a config() call)."""

    setting: Setting
    resource: str  # models | seeds | snapshots | sources | data_tests | analyses
    where: str  # "project" | "properties" | "properties-top" | "sql"


def finding(
    code: str,
    message: str,
    loc: Loc,
    related: tuple[Related, ...] | list[Related] = (),
    severity: Severity | None = None,
    data: tuple[tuple[str, str], ...] = (),
) -> Finding:
    c = CODES[code]
    return Finding(code, severity or c.severity, message, loc, c.rule, tuple(related), data)


def did_you_mean(word: str, options: list[str] | set[str]) -> str:
    m = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.6)
    return f" Did you mean `{m[0]}`?" if m else ""


def where(s: Setting) -> str:
    return f"{os.path.basename(s.path)}:{s.key_node.span.line + 1}"


def _tree_sites(pf_path: str, tree: YMap, resource: str) -> Iterator[Site]:
    stack: list[YMap] = [tree]
    while stack:
        m = stack.pop()
        for p in m.items:
            key = str(p.key.value)
            if key.startswith("+"):
                yield Site(Setting(key[1:], p.key, p.value, pf_path, "dbt_project.yml"), resource, "project")
            elif isinstance(p.value, YMap):
                stack.append(p.value)


def _config_sites(idx: ProjectIndex, scope: frozenset[str] | None = None) -> Iterator[Site]:
    for site in _all_sites(idx, scope):
        if site.setting.key in SITE_KEYS and (scope is None or site.setting.path in scope):
            yield site


def _all_sites(idx: ProjectIndex, scope: frozenset[str] | None) -> Iterator[Site]:
    def wanted(path: str) -> bool:
        return scope is None or path in scope

    for pkg in [idx.root, *idx.packages]:
        if not pkg.is_root:
            continue  # installed packages are read-only: we do not report inside them
        pf = pkg.project
        if pf.root is not None and wanted(pf.path):
            for resource in ("models", "seeds", "snapshots", "sources", "data_tests", "tests", "analyses"):
                tree = pf.tree(resource)
                if tree is not None:
                    yield from _tree_sites(pf.path, tree, "data_tests" if resource == "tests" else resource)
        for path, props in pkg.props.items():
            if not wanted(path):
                continue
            for entry in props.entries:
                configs = [entry.config] + [v.get("config") for _v, _s, v in entry.versions]
                for m in configs:
                    for st in config_settings(m if isinstance(m, YMap) else None, path, "properties"):
                        yield Site(st, entry.kind, "properties")
                for st in config_settings(entry.node, path, "properties"):
                    yield Site(st, entry.kind, "properties-top")
                # data tests with a config block under columns / data_tests
                yield from _test_sites(entry.node, path)
            for src in props.sources:
                for cfg in [src.config, *(t.config for t in src.tables)]:
                    for st in config_settings(cfg, path, "properties"):
                        yield Site(st, "sources", "properties")
        # config() calls: SQL and Python models, SQL snapshots
        for files, resource in ((pkg.sql, "models"), (pkg.py, "models"), (pkg.snapshots, "snapshots")):
            for path, f in files.items():
                if wanted(path):
                    for st in call_settings(f.configs, path):
                        yield Site(st, resource, "sql")


def _test_sites(entry: YMap, path: str) -> Iterator[Site]:
    lists = []
    for key in ("data_tests", "tests"):
        v = entry.get(key)
        if isinstance(v, YSeq):
            lists.append(v)
    cols = entry.get("columns")
    if isinstance(cols, YSeq):
        for c in cols.items:
            if isinstance(c, YMap):
                for key in ("data_tests", "tests"):
                    v = c.get(key)
                    if isinstance(v, YSeq):
                        lists.append(v)
    for seq in lists:
        for t in seq.items:
            if not isinstance(t, YMap):
                continue
            for p in t.items:
                if isinstance(p.value, YMap):
                    cfg = p.value.get("config")
                    for st in config_settings(cfg if isinstance(cfg, YMap) else None, path, "properties"):
                        yield Site(st, "data_tests", "properties")
