"""What every rule needs: the context, a finding constructor, and the places configs are written."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from freshlens.index import ProjectIndex, Setting
from freshlens.model import Finding, Loc, ParseProblem, Related, Severity
from freshlens.project.yamlpos import YMap, YScalar, YSeq
from freshlens.rules.codes import CODES


@dataclass(slots=True)
class Ctx:
    index: ProjectIndex
    problems: list[ParseProblem]
    _sites: list[Site] | None = field(default=None)

    def sites(self) -> list[Site]:
        if self._sites is None:
            self._sites = list(_config_sites(self.index))
        return self._sites

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


def _config_sites(idx: ProjectIndex) -> Iterator[Site]:
    for pkg in [idx.root, *idx.packages]:
        if not pkg.is_root:
            continue  # installed packages are read-only: we do not report inside them
        pf = pkg.project
        if pf.root is not None:
            for resource in ("models", "seeds", "snapshots", "sources", "data_tests", "tests", "analyses"):
                tree = pf.tree(resource)
                if tree is not None:
                    yield from _tree_sites(pf.path, tree, "data_tests" if resource == "tests" else resource)
        for path, props in pkg.props.items():
            for entry in props.entries:
                for holder, where_ in ((entry.config, "properties"), (entry.node, "properties-top")):
                    if isinstance(holder, YMap):
                        for p in holder.items:
                            yield Site(
                                Setting(str(p.key.value), p.key, p.value, path, "properties"),
                                entry.kind,
                                where_,
                            )
                for _v, _vs, ventry in entry.versions:
                    vc = ventry.get("config")
                    if isinstance(vc, YMap):
                        for p in vc.items:
                            yield Site(
                                Setting(str(p.key.value), p.key, p.value, path, "properties"),
                                entry.kind,
                                "properties",
                            )
                # data tests with a config block under columns / data_tests
                yield from _test_sites(entry.node, path)
            for src in props.sources:
                for cfg in [src.config, *(t.config for t in src.tables)]:
                    if isinstance(cfg, YMap):
                        for p in cfg.items:
                            yield Site(
                                Setting(str(p.key.value), p.key, p.value, path, "properties"),
                                "sources",
                                "properties",
                            )
        for path, sql in pkg.sql.items():
            for call in sql.configs:
                for p in call.args.items:
                    yield Site(
                        Setting(str(p.key.value), p.key, p.value, path, "sql", call.conditional),
                        "models",
                        "sql",
                    )
        for path, py in pkg.py.items():
            for call in py.configs:
                for p in call.args.items:
                    yield Site(Setting(str(p.key.value), p.key, p.value, path, "sql"), "models", "sql")
        for path, snap in pkg.snapshots.items():
            for call in snap.configs:
                for p in call.args.items:
                    yield Site(Setting(str(p.key.value), p.key, p.value, path, "sql"), "snapshots", "sql")


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
                    if isinstance(cfg, YMap):
                        for q in cfg.items:
                            yield Site(
                                Setting(str(q.key.value), q.key, q.value, path, "properties"),
                                "data_tests",
                                "properties",
                            )


def key_text(k: YScalar) -> str:
    return str(k.value)
