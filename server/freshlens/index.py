"""The project index: nodes, sources, the DAG, and effective configs with provenance.

Built from already-parsed files (``freshlens.project.files``), so rebuilding after an edit costs no
I/O and no re-parsing. Precedence and merge rules follow spec/sao.md §5 (P1–P5) and S5, and
spec/dbt-state.md V12; the measured dbt-core behaviour is in spec/dbt-core-oracle.md §3.2–3.3.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from freshlens.model import Dynamic, Loc, Span
from freshlens.project.files import (
    ProjectFile,
    PropsEntry,
    PropsFile,
    PyFile,
    SourceEntry,
    SqlFile,
    TableEntry,
)
from freshlens.project.sqlscan import ConfigCall, RefCall
from freshlens.project.yamlpos import YMap, YNode, YScalar, YSeq, to_plain

# Model config keys dbt reads in dbt_project.yml without a ``+`` (when the value is not a mapping).
KNOWN_CONFIG_KEYS = {
    "enabled",
    "materialized",
    "tags",
    "schema",
    "database",
    "alias",
    "pre-hook",
    "post-hook",
    "pre_hook",
    "post_hook",
    "persist_docs",
    "full_refresh",
    "on_schema_change",
    "unique_key",
    "incremental_strategy",
    "contract",
    "grants",
    "docs",
    "meta",
    "freshness",
    "state",
    "sql_header",
    "quoting",
    "column_types",
    "group",
    "access",
    "event_time",
    "batch_size",
    "lookback",
    "begin",
    "concurrent_batches",
    "cluster_by",
    "partition_by",
    "static_analysis",
    "quote_columns",
    "delimiter",
    "strategy",
    "updated_at",
    "check_cols",
    "target_schema",
    "target_database",
    "snapshot_meta_column_names",
    "hard_deletes",
    "invalidate_hard_deletes",
    "loaded_at_field",
    "loaded_at_query",
    "labels",
    "transient",
    "file_format",
    "location_root",
    "dist",
    "sort",
    "indexes",
    "unlogged",
    "incremental_predicates",
    "merge_update_columns",
    "merge_exclude_columns",
    "store_failures",
    "severity",
    "warn_if",
    "error_if",
    "limit",
    "where",
    "fail_calc",
}
# Configs whose value is a mapping: without ``+`` dbt reads them as a sub-folder path (P5).
DICT_CONFIG_KEYS = {"freshness", "state", "meta", "docs", "persist_docs", "grants", "contract", "quoting"}


def plain(node: YNode | None) -> Any:
    """The Python value of a node; strings containing Jinja become ``Dynamic``."""
    if node is None:
        return None
    if isinstance(node, YScalar):
        v = node.value
        if isinstance(v, str) and ("{{" in v or "{%" in v):
            return Dynamic(v)
        return v
    if isinstance(node, YSeq):
        return [plain(n) for n in node.items]
    return {str(p.key.value): plain(p.value) for p in node.items}


def is_dynamic(node: YNode | None) -> bool:
    return isinstance(plain(node) if isinstance(node, YScalar) else None, Dynamic)


_DEFAULT_MATERIALIZED = {"model": "view", "seed": "seed", "snapshot": "snapshot"}


@dataclass(slots=True)
class Setting:
    """One place that sets a config key: the key and value nodes, the file, and the layer."""

    key: str
    key_node: YScalar
    value: YNode
    path: str
    layer: str  # "dbt_project.yml" | "properties" | "sql" | "source" | "table"
    conditional: bool = False

    @property
    def loc(self) -> Loc:
        return Loc(self.path, self.key_node.span)

    @property
    def value_loc(self) -> Loc:
        return Loc(self.path, self.value.span)

    @property
    def is_null(self) -> bool:
        return isinstance(self.value, YScalar) and self.value.value is None

    def describe(self) -> str:
        return f"{self.layer} ({os.path.basename(self.path)}:{self.key_node.span.line + 1})"


@dataclass(slots=True)
class Effective:
    """An effective config value and where it came from."""

    value: Any
    setting: Setting | None  # None = default / not set
    replaced: list[Setting] = field(default_factory=list)
    ignored: list[Setting] = field(default_factory=list)  # settings that dbt does not apply
    note: str = ""

    @property
    def is_set(self) -> bool:
        return self.setting is not None and self.value is not None


UNSET = Effective(None, None)


@dataclass(slots=True)
class Node:
    unique_id: str
    name: str
    resource_type: str  # model | seed | snapshot
    package: str
    path: str | None  # the .sql / .py / .csv file
    language: str  # sql | python | csv
    fqn: list[str]
    version: str | None = None
    props: PropsEntry | None = None
    props_path: str | None = None
    version_entry: YMap | None = None
    configs: list[ConfigCall] = field(default_factory=list)
    refs: list[RefCall] = field(default_factory=list)
    name_span: Span | None = None  # snapshot block name, for SQL-defined snapshots
    render: Any = None  # freshlens.render.NodeRender when the model's Jinja was rendered
    state_parents: list[str] = field(default_factory=list)  # parents taken from the last build (planner)
    # filled by linking
    settings: dict[str, list[Setting]] = field(default_factory=dict)
    effective: dict[str, Effective] = field(default_factory=dict)
    parents: list[str] = field(default_factory=list)

    def eff(self, key: str) -> Effective:
        return self.effective.get(key, UNSET)

    @property
    def materialized(self) -> Any:
        v = self.effective.get("materialized", UNSET).value
        return _DEFAULT_MATERIALIZED.get(self.resource_type) if v is None else v

    @property
    def display(self) -> str:
        return f"{self.name}.v{self.version}" if self.version else self.name


@dataclass(slots=True)
class Threshold:
    count: Any
    period: Any
    setting: Setting | None


@dataclass(slots=True)
class SourceFreshness:
    warn_after: Threshold | None = None
    error_after: Threshold | None = None
    filter: Any = None
    filter_setting: Setting | None = None
    disabled_by: Setting | None = None
    dynamic: bool = False

    @property
    def active(self) -> bool:
        return self.disabled_by is None and (self.warn_after is not None or self.error_after is not None)


@dataclass(slots=True)
class SourceTable:
    unique_id: str
    source_name: str
    name: str
    package: str
    path: str
    source: SourceEntry
    table: TableEntry
    fqn: list[str]
    freshness: SourceFreshness = field(default_factory=SourceFreshness)
    loaded_at_field: Effective = field(default_factory=lambda: UNSET)
    loaded_at_query: Effective = field(default_factory=lambda: UNSET)
    loaded_at_settings: list[Setting] = field(default_factory=list)
    relation_type: str | None = None  # from catalog.json: "BASE TABLE" / "VIEW"
    database: Any = None
    schema: Any = None
    identifier: Any = None

    @property
    def display(self) -> str:
        return f"{self.source_name}.{self.name}"

    @property
    def loaded_at_method(self) -> str:
        if self.loaded_at_query.is_set:
            return "loaded_at_query"
        if self.loaded_at_field.is_set:
            return "loaded_at_field"
        return "metadata"


@dataclass(slots=True)
class PackageFiles:
    """Parsed files of one dbt project (the root project or an installed package)."""

    project: ProjectFile
    dir: str
    sql: dict[str, SqlFile]
    py: dict[str, PyFile]
    props: dict[str, PropsFile]
    seeds: list[str]
    snapshots: dict[str, SqlFile]
    rel: dict[str, tuple[str, str]]  # file -> (resource root, relative path)
    is_root: bool = True
    macros: dict[str, str] = field(default_factory=dict)  # macro file -> text


@dataclass(slots=True)
class UnresolvedRef:
    node: Node
    call: RefCall
    path: str


@dataclass(slots=True)
class ProjectIndex:
    """One dbt project with its installed packages, linked."""

    root: PackageFiles
    packages: list[PackageFiles]
    nodes: dict[str, Node] = field(default_factory=dict)
    sources: dict[str, SourceTable] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)
    unresolved: list[UnresolvedRef] = field(default_factory=list)
    dynamic_refs: list[UnresolvedRef] = field(default_factory=list)
    duplicates: list[tuple[Node, Node]] = field(default_factory=list)
    orphan_props: list[tuple[PropsEntry, str]] = field(default_factory=list)
    adapter_type: str | None = None
    catalog_types: dict[str, str] = field(default_factory=dict)  # source unique_id -> relation type
    names: dict[str, list[Node]] = field(default_factory=dict)  # node name -> nodes (for ref resolution)
    macro_hashes: dict[str, str] = field(default_factory=dict)  # macro unique id -> sha256 of its block
    source_ids: dict[tuple[str, str], str] = field(default_factory=dict)  # (source, table) -> unique id
    vars: dict[str, Any] = field(default_factory=dict)  # the user's var overrides (dbt's --vars)
    renderer: Any = None  # freshlens.render.Renderer: the project's parse-time Jinja context
    # file -> the nodes defined or described in it (a node's .sql/.py and its properties YAML), made
    # on first use: a node keeps its files for the index's life (an edit that moves one rebuilds it)
    _by_file: tuple[int, dict[str, list[Node]]] | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.root.project.name or os.path.basename(self.root.dir)

    @property
    def dir(self) -> str:
        return self.root.dir

    def models(self) -> Iterable[Node]:
        return (n for n in self.nodes.values() if n.resource_type == "model")

    def node_by_name(self, name: str) -> Node | None:
        for n in self.nodes.values():
            if n.name == name and n.resource_type == "model":
                return n
        return None

    def nodes_in_file(self, path: str) -> list[Node]:
        if self._by_file is None or self._by_file[0] != len(self.nodes):
            by: dict[str, list[Node]] = {}
            for n in self.nodes.values():
                for p in {n.path, n.props_path}:
                    if p:
                        by.setdefault(p, []).append(n)
            self._by_file = (len(self.nodes), by)
        return list(self._by_file[1].get(path, ()))

    def topo_order(self) -> list[str]:
        """Node unique ids, parents before children (sources are not nodes)."""
        order: list[str] = []
        state: dict[str, int] = {}
        nodes = self.nodes
        known: dict[str, list[str]] = {}  # each node's parents that are nodes, worked out once
        for start in sorted(nodes):
            if start in state:
                continue
            stack: list[tuple[str, int]] = [(start, 0)]
            while stack:
                uid, i = stack.pop()
                if i == 0:
                    if state.get(uid) is not None:
                        continue
                    state[uid] = 1
                parents = known.get(uid)
                if parents is None:
                    parents = known[uid] = [p for p in nodes[uid].parents if p in nodes]
                if i < len(parents):
                    stack.append((uid, i + 1))
                    p = parents[i]
                    if p not in state:
                        stack.append((p, 0))
                else:
                    state[uid] = 2
                    order.append(uid)
        return order


# ------------------------------------------------------------------------------------------------
# dbt_project.yml config trees


def _level_settings(pf: ProjectFile, m: YMap, depth: int) -> list[tuple[int, Setting]]:
    out: list[tuple[int, Setting]] = []
    for p in m.items:
        key = str(p.key.value)
        if key.startswith("+"):
            out.append((depth, Setting(key[1:], p.key, p.value, pf.path, "dbt_project.yml")))
        elif key in KNOWN_CONFIG_KEYS and not isinstance(p.value, YMap):
            out.append((depth, Setting(key, p.key, p.value, pf.path, "dbt_project.yml")))
    return out


def project_settings(pf: ProjectFile, resource: str, parts: list[str]) -> list[tuple[int, Setting]]:
    """Config settings from ``dbt_project.yml`` that apply to a node at ``parts`` (package, dirs…, name).

    Returns (depth, setting) from least to most specific. Folder levels are computed once per folder
    (cached on the parsed file), so 10,000 models in 100 folders walk the tree 100 times.
    """
    tree = pf.tree(resource)
    if tree is None or not parts:
        return []
    folder = (resource, *parts[:-1])
    got = pf.settings_cache.get(folder)
    if got is None:
        out: list[tuple[int, Setting]] = []
        cur: YMap | None = tree
        depth = 0
        while cur is not None:
            out.extend(_level_settings(pf, cur, depth))
            if depth >= len(parts) - 1:
                break
            nxt = cur.get(parts[depth])
            cur = nxt if isinstance(nxt, YMap) else None
            depth += 1
        got = (out, cur)
        pf.settings_cache[folder] = got
    base, last = got
    if last is not None:
        leaf = last.get(parts[-1])
        if isinstance(leaf, YMap):
            return base + _level_settings(pf, leaf, len(parts))
    return base


def config_settings(m: YMap | None, path: str, layer: str, conditional: bool = False) -> list[Setting]:
    """One ``Setting`` per key of a config mapping (a ``config:`` block, or a ``config()`` call's arguments)."""
    if m is None:
        return []
    return [Setting(str(p.key.value), p.key, p.value, path, layer, conditional) for p in m.items]


def call_settings(calls: list[ConfigCall], path: str) -> list[Setting]:
    """The settings of a file's ``config()`` calls, in order (a later call wins)."""
    out: list[Setting] = []
    for c in calls:
        out.extend(config_settings(c.args, path, "sql", c.conditional))
    return out


# ------------------------------------------------------------------------------------------------
# effective configs


def _has_build_after(node: YNode) -> bool:
    return isinstance(node, YMap) and node.has("build_after")


def resolve_freshness(node: Node) -> Effective:
    """Model ``freshness``: whole-object replacement (P2), the null behaviour of P4, oracle §3.2."""
    project = [s for s in node.settings.get("freshness", []) if s.layer == "dbt_project.yml"]
    yaml_s = [s for s in node.settings.get("freshness", []) if s.layer == "properties"]
    sql_s = [s for s in node.settings.get("freshness", []) if s.layer == "sql"]
    replaced: list[Setting] = []
    proj: Setting | None = None
    for s in project:  # least to most specific; null at a folder clears (P4)
        if proj is not None:
            replaced.append(proj)
        proj = None if s.is_null else s
    if proj is not None and not is_dynamic(proj.value) and not _has_build_after(proj.value):
        proj = None  # dropped after the merge (oracle §3.2.3)
    ignored: list[Setting] = []
    result = proj
    ys = yaml_s[-1] if yaml_s else None
    if ys is not None:
        if ys.is_null or (not is_dynamic(ys.value) and not _has_build_after(ys.value)):
            ignored.append(ys)
        else:
            if result is not None:
                replaced.append(result)
            result = ys
    ss = sql_s[-1] if sql_s else None
    if ss is not None:
        if ss.conditional:
            return Effective(Dynamic("config() inside {% if %}"), ss, replaced, ignored, "set conditionally")
        if ss.is_null:
            # SQL null beats YAML but falls back to the project value (oracle §3.2.4)
            if ys is not None and result is ys:
                ignored.append(ys)
            ignored.append(ss)
            result = proj
        elif not is_dynamic(ss.value) and not _has_build_after(ss.value):
            ignored.append(ss)
        else:
            if result is not None:
                replaced.append(result)
            result = ss
    if result is None:
        return Effective(None, None, replaced, ignored)
    return Effective(plain(result.value), result, replaced, ignored)


def resolve_whole(node: Node, key: str) -> Effective:
    """Most specific non-null setting wins as a whole (``state``, V12; and plain scalar configs)."""
    chosen: Setting | None = None
    replaced: list[Setting] = []
    ignored: list[Setting] = []
    for s in node.settings.get(key, []):
        if s.is_null:
            ignored.append(s)
            continue
        if chosen is not None:
            replaced.append(chosen)
        chosen = s
    if chosen is None:
        return Effective(None, None, replaced, ignored)
    if chosen.conditional:
        return Effective(Dynamic("config() inside {% if %}"), chosen, replaced, ignored, "set conditionally")
    return Effective(plain(chosen.value), chosen, replaced, ignored)


def _threshold(m: YMap, key: str, setting: Setting) -> Threshold | None:
    t = m.get(key)
    if not isinstance(t, YMap):
        return None
    c, p = plain(t.get("count")), plain(t.get("period"))
    if c is None or p is None:
        return None  # partial rules are ignored (S4, S5)
    return Threshold(
        c,
        p,
        Setting(key, _key_node(m, key) or setting.key_node, t, setting.path, setting.layer),
    )


def _key_node(m: YMap, key: str) -> YScalar | None:
    p = m.pair(key)
    return p.key if p is not None else None


def _fresh_setting(entry: YMap, path: str, layer: str) -> Setting | None:
    """``config: freshness:`` wins over the legacy top-level ``freshness:`` property."""
    cfg = entry.get("config")
    if isinstance(cfg, YMap):
        p = cfg.pair("freshness")
        if p is not None:
            return Setting("freshness", p.key, p.value, path, layer)
    p = entry.pair("freshness")
    if p is not None:
        return Setting("freshness", p.key, p.value, path, layer)
    return None


def _loaded_settings(entry: YMap, path: str, layer: str) -> dict[str, Setting]:
    out: dict[str, Setting] = {}
    for holder in (entry, entry.get("config")):
        if not isinstance(holder, YMap):
            continue
        for key in ("loaded_at_field", "loaded_at_query"):
            p = holder.pair(key)
            if p is not None:
                out[key] = Setting(key, p.key, p.value, path, layer)
    return out


def resolve_source(st: SourceTable, project_fresh: Setting | None) -> None:
    """Per-key merge source → table (S5); ``loaded_at_*`` closest to the table wins."""
    src_s = _fresh_setting(st.source.node, st.path, "source")
    tbl_s = _fresh_setting(st.table.node, st.path, "table")
    fr = SourceFreshness()
    levels = [s for s in (src_s, tbl_s) if s is not None]
    if not levels and project_fresh is not None:
        levels = [project_fresh]
    for s in levels:
        if s.is_null:
            fr = SourceFreshness(disabled_by=s)
            continue
        if not isinstance(s.value, YMap):
            if is_dynamic(s.value):
                fr.dynamic = True
            continue
        m = s.value
        if fr.disabled_by is not None and s.layer == "table" and m.items:
            fr = SourceFreshness()
        for key in ("warn_after", "error_after"):
            th = _threshold(m, key, s)
            if th is not None:
                setattr(fr, key, th)
        fp = m.pair("filter")
        if fp is not None:
            fr.filter = plain(fp.value)
            fr.filter_setting = Setting("filter", fp.key, fp.value, s.path, s.layer)
    st.freshness = fr
    src_l = _loaded_settings(st.source.node, st.path, "source")
    tbl_l = _loaded_settings(st.table.node, st.path, "table")
    st.loaded_at_settings = list(src_l.values()) + list(tbl_l.values())

    def eff(s: Setting | None) -> Effective:
        if s is None or s.is_null:
            return Effective(None, s)
        return Effective(plain(s.value), s)

    if "loaded_at_query" in tbl_l or "loaded_at_field" in tbl_l:
        st.loaded_at_query = eff(tbl_l.get("loaded_at_query"))
        st.loaded_at_field = eff(tbl_l.get("loaded_at_field") or src_l.get("loaded_at_field"))
        if "loaded_at_field" in tbl_l and "loaded_at_query" not in tbl_l:
            st.loaded_at_field = eff(tbl_l["loaded_at_field"])
            st.loaded_at_query = Effective(
                None, None, ignored=[s for s in [src_l.get("loaded_at_query")] if s]
            )
    else:
        st.loaded_at_query = eff(src_l.get("loaded_at_query"))
        st.loaded_at_field = eff(src_l.get("loaded_at_field"))


# ------------------------------------------------------------------------------------------------
# building


def _dirs(rel: str) -> list[str]:
    parts = rel.replace(os.sep, "/").split("/")
    return parts[:-1]


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def build_index(
    root: PackageFiles,
    packages: list[PackageFiles],
    vars: dict[str, Any] | None = None,
    target: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    render_cache: dict[str, Any] | None = None,
) -> ProjectIndex:
    """Link the parsed files of a project and its packages.

    ``vars`` are the user's overrides (dbt's ``--vars``), ``target`` the known fields of the profile's
    target, ``env`` the environment ``env_var()`` may read (None: only defaults), for parse-time rendering;
    ``render_cache`` the stored renders (``freshlens.render.cache``) the renderer may reuse.
    """
    from freshlens.render import Renderer
    from freshlens.render.project import render_model, resolve_yaml_values, setup_for

    idx = ProjectIndex(root, packages, vars=dict(vars or {}))
    idx.renderer = Renderer(setup_for(root, packages, vars, target, env), render_cache)
    by_name: dict[tuple[str, str], Node] = {}
    for pkg in [root, *packages]:
        pname = pkg.project.name or os.path.basename(pkg.dir)
        _add_nodes(idx, pkg, pname, by_name)
    for pkg in [root, *packages]:
        pname = pkg.project.name or os.path.basename(pkg.dir)
        _apply_props(idx, pkg, pname, by_name)
        _add_sources(idx, pkg, pname)
    for node in idx.nodes.values():
        node.render = render_model(idx, node)
        _collect_settings(idx, node)
        node.effective["freshness"] = resolve_freshness(node)
        for key in node.settings:
            if key != "freshness":
                node.effective[key] = resolve_whole(node, key)
        resolve_yaml_values(idx, node)
    _link(idx)
    for pkg in [root, *packages]:
        pname = pkg.project.name or os.path.basename(pkg.dir)
        for text in pkg.macros.values():
            for m in _MACRO_BLOCK.finditer(text):
                idx.macro_hashes[f"macro.{pname}.{m.group(1)}"] = hashlib.sha256(
                    m.group(0).encode("utf-8")
                ).hexdigest()
    idx._by_file = None  # anything looked up while building is looked up again
    return idx


# What dbt stores as a macro's ``macro_sql``: the block from {% macro %} to {% endmacro %}.
_MACRO_BLOCK = re.compile(r"\{%-?\s*macro\s+(\w+)\s*\(.*?\{%-?\s*endmacro\s*-?%\}", re.DOTALL)


def _add_node(idx: ProjectIndex, node: Node, by_name: dict[tuple[str, str], Node]) -> None:
    other = idx.nodes.get(node.unique_id)
    if other is not None:
        idx.duplicates.append((other, node))
        return
    idx.nodes[node.unique_id] = node
    by_name.setdefault((node.package, node.name + (f".v{node.version}" if node.version else "")), node)


def _add_nodes(
    idx: ProjectIndex, pkg: PackageFiles, pname: str, by_name: dict[tuple[str, str], Node]
) -> None:
    models: list[tuple[str, SqlFile | PyFile, str]] = [(p, f, "sql") for p, f in pkg.sql.items()]
    models += [(p, f, "python") for p, f in pkg.py.items()]
    for path, f, language in models:
        name = _stem(path)
        rel = pkg.rel.get(path, ("", os.path.basename(path)))[1]
        node = Node(f"model.{pname}.{name}", name, "model", pname, path, language, [pname, *_dirs(rel), name])
        node.configs, node.refs = f.configs, f.refs
        _add_node(idx, node, by_name)
    for path in pkg.seeds:
        name = _stem(path)
        rel = pkg.rel.get(path, ("", os.path.basename(path)))[1]
        _add_node(
            idx,
            Node(f"seed.{pname}.{name}", name, "seed", pname, path, "csv", [pname, *_dirs(rel), name]),
            by_name,
        )
    for path, sf in pkg.snapshots.items():
        rel = pkg.rel.get(path, ("", os.path.basename(path)))[1]
        for sname, sspan in sf.scan.snapshots:
            _add_node(
                idx,
                Node(
                    f"snapshot.{pname}.{sname}",
                    sname,
                    "snapshot",
                    pname,
                    path,
                    "sql",
                    [pname, *_dirs(rel), _stem(path), sname],  # dbt: the file's name, then the block's
                    configs=sf.configs,
                    refs=sf.refs,
                    name_span=sspan,
                ),
                by_name,
            )


def _apply_props(
    idx: ProjectIndex, pkg: PackageFiles, pname: str, by_name: dict[tuple[str, str], Node]
) -> None:
    rtype = {"models": "model", "seeds": "seed", "snapshots": "snapshot"}
    for path, props in pkg.props.items():
        for entry in props.entries:
            kind = rtype.get(entry.kind)
            if kind is None:
                continue
            uid = f"{kind}.{pname}.{entry.name}"
            if entry.versions and kind == "model":
                base = idx.nodes.pop(uid, None)
                for v, _vspan, ventry in entry.versions:
                    vuid = f"{uid}.v{v}"
                    defined_in = ventry.get("defined_in")
                    fname = str(plain(defined_in)) if defined_in is not None else f"{entry.name}_v{v}"
                    vnode: Node | None
                    if fname == entry.name and base is not None:
                        vnode, base = base, None
                    else:
                        vnode = idx.nodes.pop(f"model.{pname}.{fname}", None)
                    if vnode is None and base is not None and v == (entry.latest_version or v):
                        vnode, base = base, None
                    if vnode is None:
                        idx.orphan_props.append((entry, path))
                        continue
                    vnode.unique_id, vnode.name, vnode.version = vuid, entry.name, v
                    # dbt's fqn of a version: the model's name, then "v<version>" (not the file's name)
                    vnode.fqn = [*vnode.fqn[:-1], entry.name, f"v{v}"]
                    vnode.props, vnode.props_path, vnode.version_entry = entry, path, ventry
                    idx.nodes[vuid] = vnode
                if base is not None:
                    idx.nodes[uid] = base
                    base.props, base.props_path = entry, path
                continue
            node = idx.nodes.get(uid)
            if node is None and kind == "snapshot" and entry.node.get("relation") is not None:
                node = Node(uid, entry.name, "snapshot", pname, None, "sql", [pname, entry.name])
                for r in _yaml_relation_refs(entry):
                    node.refs.append(r)
                idx.nodes[uid] = node
            if node is None:
                idx.orphan_props.append((entry, path))
                continue
            node.props, node.props_path = entry, path


def _yaml_relation_refs(entry: PropsEntry) -> list[RefCall]:
    from freshlens.project.sqlscan import scan_sql

    rel = entry.node.get("relation")
    if not isinstance(rel, YScalar) or not isinstance(rel.value, str):
        return []
    scan = scan_sql("{{ " + rel.value + " }}")
    out = []
    for r in scan.refs:
        r.span = rel.span
        out.append(r)
    return out


def _add_sources(idx: ProjectIndex, pkg: PackageFiles, pname: str, only: str | None = None) -> None:
    from freshlens.render.project import resolve_source_values

    for path, props in pkg.props.items():
        if only is not None and path != only:
            continue
        rel = pkg.rel.get(path, ("", os.path.basename(path)))[1]
        dirs = _dirs(rel)
        for src in props.sources:
            for t in src.tables:
                uid = f"source.{pname}.{src.name}.{t.name}"
                st = SourceTable(uid, src.name, t.name, pname, path, src, t, [pname, *dirs, src.name, t.name])
                proj_fresh = None
                for _d, s in project_settings(pkg.project, "sources", [pname, src.name, t.name]):
                    if s.key == "freshness":
                        proj_fresh = None if s.is_null else s
                        if s.is_null:
                            proj_fresh = s
                resolve_source(st, proj_fresh)
                st.database = plain(t.node.get("database") or src.node.get("database"))
                st.schema = plain(src.node.get("schema")) or src.name
                st.identifier = plain(t.node.get("identifier")) or t.name
                st.relation_type = idx.catalog_types.get(uid)
                resolve_source_values(idx, st)
                idx.sources[uid] = st


def _collect_settings(idx: ProjectIndex, node: Node) -> None:
    resource = {"model": "models", "seed": "seeds", "snapshot": "snapshots"}[node.resource_type]
    parts = node.fqn
    pkg_files = next(
        (p for p in [idx.root, *idx.packages] if (p.project.name or os.path.basename(p.dir)) == node.package),
        idx.root,
    )
    layers: list[Setting] = [s for _d, s in project_settings(pkg_files.project, resource, parts)]
    if pkg_files is not idx.root:  # the root project's dbt_project.yml applies again last (P1)
        layers += [s for _d, s in project_settings(idx.root.project, resource, parts)]
    if node.props is not None and node.props_path is not None:
        layers += config_settings(node.props.config, node.props_path, "properties")
        if node.version_entry is not None:
            vcfg = node.version_entry.get("config")
            layers += config_settings(vcfg if isinstance(vcfg, YMap) else None, node.props_path, "properties")
    if node.path is not None:
        layers += call_settings(node.configs, node.path)
    settings: dict[str, list[Setting]] = {}
    for s in layers:
        key = s.key.replace("-", "_") if s.key in ("pre-hook", "post-hook") else s.key
        settings.setdefault(key, []).append(s)
    node.settings = settings


def _link_node(idx: ProjectIndex, node: Node) -> None:
    parents: list[str] = []
    for call in node.refs:
        path = node.path or node.props_path or ""
        if call.dynamic:
            idx.dynamic_refs.append(UnresolvedRef(node, call, path))
            continue
        target = _resolve(call, node, idx.names, idx.source_ids)
        if target is None:
            idx.unresolved.append(UnresolvedRef(node, call, path))
        elif target not in parents and target != node.unique_id:
            parents.append(target)
    node.parents = parents
    for p in parents:
        idx.children.setdefault(p, []).append(node.unique_id)


def _link(idx: ProjectIndex) -> None:
    names = idx.names
    for n in idx.nodes.values():
        names.setdefault(n.name, []).append(n)
    for st in idx.sources.values():
        idx.source_ids.setdefault((st.source_name, st.name), st.unique_id)
    for node in idx.nodes.values():
        if node.path is None and not node.refs:
            continue
        _link_node(idx, node)
    # duplicate model names within one package (dbt refuses to parse)
    for group in names.values():
        models = [n for n in group if n.resource_type == "model" and n.version is None]
        by_pkg: dict[str, list[Node]] = {}
        for n in models:
            by_pkg.setdefault(n.package, []).append(n)
        for g in by_pkg.values():
            for other in g[1:]:
                idx.duplicates.append((g[0], other))


def refresh_node(idx: ProjectIndex, node: Node, configs: list[ConfigCall], refs: list[RefCall]) -> None:
    """Re-derive one node after an edit of its own .sql/.py file (its name and place are unchanged)."""
    for p in node.parents:
        kids = idx.children.get(p)
        if kids and node.unique_id in kids:
            kids.remove(node.unique_id)
    idx.unresolved = [u for u in idx.unresolved if u.node is not node]
    idx.dynamic_refs = [u for u in idx.dynamic_refs if u.node is not node]
    from freshlens.render.project import render_model, resolve_yaml_values

    node.configs, node.refs = configs, refs
    node.render = render_model(idx, node)
    _collect_settings(idx, node)
    node.effective = {"freshness": resolve_freshness(node)}
    for key in node.settings:
        if key != "freshness":
            node.effective[key] = resolve_whole(node, key)
    resolve_yaml_values(idx, node)
    _link_node(idx, node)


def props_signature(pf: PropsFile) -> tuple[object, ...]:
    """What in a properties file decides which nodes and sources exist (names, versions, tables)."""
    return (
        tuple(
            (
                e.kind,
                e.name,
                tuple(v for v, _s, _e in e.versions),
                e.latest_version,
                str(plain(e.node.get("relation"))) if e.node.get("relation") is not None else None,
            )
            for e in pf.entries
        ),
        tuple((src.name, tuple(t.name for t in src.tables)) for src in pf.sources),
    )


def refresh_props(idx: ProjectIndex, path: str, new: PropsFile) -> bool:
    """Swap in an edited properties file whose entries name the same nodes and sources as before.

    Re-derives the nodes it describes and rebuilds its source tables in place. Returns False (and
    changes nothing) when the edit renames, adds or removes entries: the caller then rebuilds.
    """
    pkg = idx.root
    old = pkg.props.get(path)
    if old is None or props_signature(old) != props_signature(new):
        return False
    entries = {(e.kind, e.name): e for e in new.entries}
    kinds = {"model": "models", "seed": "seeds", "snapshot": "snapshots"}
    bound = [n for n in idx.nodes.values() if n.props_path == path]
    for n in bound:
        if (kinds.get(n.resource_type), n.name) not in entries:
            return False
    pkg.props[path] = new
    for n in bound:
        e = entries[(kinds[n.resource_type], n.name)]
        n.props = e
        if n.version is not None:
            n.version_entry = next((v for ver, _s, v in e.versions if ver == n.version), None)
        refs = n.refs
        if n.path is None:  # a snapshot defined in YAML: its refs come from `relation:`
            refs = _yaml_relation_refs(e)
        refresh_node(idx, n, n.configs, refs)
    idx.orphan_props = [
        (entries.get((e.kind, e.name), e), p) if p == path else (e, p) for e, p in idx.orphan_props
    ]
    pname = pkg.project.name or os.path.basename(pkg.dir)
    for uid in [u for u, st in idx.sources.items() if st.path == path]:
        del idx.sources[uid]
    _add_sources(idx, pkg, pname, only=path)
    return True


def _resolve(
    call: RefCall, node: Node, names: dict[str, list[Node]], src_by: dict[tuple[str, str], str]
) -> str | None:
    args = [a for a in call.args if a is not None]
    if call.kind == "source":
        if len(args) != 2:
            return None
        return src_by.get((args[0], args[1]))
    if not args:
        return None
    name = args[-1]
    pkg = args[0] if len(args) == 2 else None
    cands = [n for n in names.get(name, []) if n.resource_type in ("model", "seed", "snapshot")]
    if pkg is not None:
        cands = [n for n in cands if n.package == pkg]
    if call.version is not None:
        cands = [n for n in cands if n.version == call.version]
    if not cands:
        return None
    same = [n for n in cands if n.package == node.package]
    pick = same or cands
    if call.version is None and any(n.version for n in pick):
        latest = pick[0].props.latest_version if pick[0].props else None
        versioned = sorted(pick, key=lambda n: _vkey(n.version))
        chosen = next((n for n in versioned if n.version == latest), versioned[-1])
        return chosen.unique_id
    return pick[0].unique_id


def ref_target(idx: ProjectIndex, node: Node, call: RefCall) -> str | None:
    """The unique id a ``ref()``/``source()`` call of ``node`` resolves to (None: dynamic or unresolved)."""
    if call.dynamic:
        return None
    return _resolve(call, node, idx.names, idx.source_ids)


def _vkey(v: str | None) -> tuple[int, str]:
    try:
        return (int(float(v or 0)), v or "")
    except ValueError:
        return (0, v or "")


__all__ = ["Effective", "Node", "ProjectIndex", "Setting", "SourceTable", "build_index", "plain", "to_plain"]
