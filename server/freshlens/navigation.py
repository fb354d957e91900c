"""Go to definition, find references, document symbols and inlay hints (pure, from the index).

- definition: ``ref()``/``source()`` -> the model file / the source table's YAML entry; a model's
  YAML entry <-> its SQL file; a config key -> where the effective value of that key was set (the
  line the hover names).
- references: every ``ref()``/``source()`` that points at a model or source table.
- symbols: models (versions, columns), seeds, snapshots, sources (tables, columns) of a properties YAML.
- inlay hints: a model's effective window (``build_after`` under SAO, ``lag_tolerance`` under dbt
  State) and where it came from, after its YAML name and at the top of its SQL file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from freshlens.index import Node, ProjectIndex, Setting, SourceTable, ref_target
from freshlens.model import Loc, Span
from freshlens.project.files import PropsFile
from freshlens.project.sqlscan import RefCall
from freshlens.project.yamlpos import YMap, YScalar, YSeq


def _ref_at(idx: ProjectIndex, path: str, line: int, col: int) -> tuple[Node, RefCall] | None:
    for node in idx.nodes.values():
        if node.path != path and node.props_path != path:
            continue
        for call in node.refs:
            if call.span.contains(line, col) and (node.path == path or node.path is None):
                return node, call
    return None


def _target_of(idx: ProjectIndex, node: Node, call: RefCall) -> str | None:
    return ref_target(idx, node, call)


def _node_loc(node: Node) -> Loc | None:
    if node.path is not None:
        return Loc(node.path, node.name_span or Span(0, 0, 0, 0))
    if node.props_path is not None and node.props is not None:
        return Loc(node.props_path, node.props.name_span)
    return None


def _source_loc(st: SourceTable) -> Loc:
    return Loc(st.path, st.table.name_span)


def _entry_at(idx: ProjectIndex, path: str, line: int, col: int) -> Node | SourceTable | None:
    """The model / source table whose YAML ``name:`` value is at the cursor."""
    for node in idx.nodes.values():
        if node.props_path == path and node.props is not None and node.props.name_span.contains(line, col):
            return node
    for st in idx.sources.values():
        if st.path == path and st.table.name_span.contains(line, col):
            return st
    return None


def _setting_at(idx: ProjectIndex, path: str, line: int, col: int) -> tuple[str, list[Node]] | None:
    """A config key at the cursor, and the nodes that setting reaches."""
    key = ""
    hits: list[Node] = []
    for node in idx.nodes.values():
        for k, lst in node.settings.items():
            if any(s.path == path and s.key_node.span.contains(line, col) for s in lst):
                key = k
                hits.append(node)
                break
    return (key, hits) if hits else None


def definition(idx: ProjectIndex, path: str, line: int, col: int) -> list[Loc]:
    got = _ref_at(idx, path, line, col)
    if got is not None:
        uid = _target_of(idx, *got)
        if uid is None:
            return []
        if uid in idx.sources:
            return [_source_loc(idx.sources[uid])]
        target = idx.nodes.get(uid)
        loc = _node_loc(target) if target is not None else None
        return [loc] if loc else []
    s = _setting_at(idx, path, line, col)
    if s is not None:
        key, nodes = s
        out: list[Loc] = []
        for n in nodes:
            eff = n.eff(key).setting
            if eff is not None and eff.loc not in out:
                out.append(eff.loc)
        return out
    entry = _entry_at(idx, path, line, col)
    if isinstance(entry, Node) and entry.path is not None:
        return [Loc(entry.path, Span(0, 0, 0, 0))]
    if isinstance(entry, SourceTable):
        return []
    for node in idx.nodes.values():  # anywhere else in a model's own file: its YAML entry
        if node.path == path and node.props is not None and node.props_path is not None:
            return [Loc(node.props_path, node.props.name_span)]
    return []


def _target_at(idx: ProjectIndex, path: str, line: int, col: int) -> str | None:
    got = _ref_at(idx, path, line, col)
    if got is not None:
        return _target_of(idx, *got)
    entry = _entry_at(idx, path, line, col)
    if entry is not None:
        return entry.unique_id
    nodes = [n for n in idx.nodes.values() if n.path == path]
    return nodes[0].unique_id if len(nodes) == 1 else None


def references(idx: ProjectIndex, path: str, line: int, col: int, include_declaration: bool) -> list[Loc]:
    """Every ref()/source() to the model or source at the cursor (a ref to it, its entry, or its file)."""
    uid = _target_at(idx, path, line, col)
    if uid is None:
        return []
    out: list[Loc] = []
    if include_declaration:
        decl = _source_loc(idx.sources[uid]) if uid in idx.sources else None
        if uid in idx.nodes:
            decl = _node_loc(idx.nodes[uid])
        if decl is not None:
            out.append(decl)
    for child in idx.children.get(uid, []):
        node = idx.nodes.get(child)
        if node is None:
            continue
        where = node.path or node.props_path
        if where is None:
            continue
        for call in node.refs:
            if _target_of(idx, node, call) == uid:
                out.append(Loc(where, call.span))
    return out


# ------------------------------------------------------------------------------------------------
# document symbols


@dataclass(slots=True)
class Symbol:
    name: str
    kind: str  # model | seed | snapshot | analysis | version | source | table | column
    span: Span  # the whole entry
    selection: Span  # its name
    detail: str = ""
    children: list[Symbol] = field(default_factory=list)


def _columns(entry: YMap) -> list[Symbol]:
    cols = entry.get("columns")
    out: list[Symbol] = []
    if not isinstance(cols, YSeq):
        return out
    for c in cols.items:
        if isinstance(c, YMap):
            n = c.get("name")
            if isinstance(n, YScalar) and n.value is not None:
                dt = c.get("data_type")
                detail = str(dt.value) if isinstance(dt, YScalar) and dt.value is not None else ""
                out.append(Symbol(str(n.value), "column", c.span, n.span, detail))
    return out


def symbols(props: PropsFile) -> list[Symbol]:
    """The outline of a properties YAML: entries with their versions and columns, sources with tables."""
    out: list[Symbol] = []
    kinds = {"models": "model", "seeds": "seed", "snapshots": "snapshot", "analyses": "analysis"}
    for e in props.entries:
        sym = Symbol(e.name, kinds.get(e.kind, "model"), e.node.span, e.name_span, e.kind[:-1])
        for v, vspan, ventry in e.versions:
            sym.children.append(Symbol(f"v{v}", "version", ventry.span, vspan, "", _columns(ventry)))
        sym.children.extend(_columns(e.node))
        out.append(sym)
    for src in props.sources:
        s = Symbol(src.name, "source", src.node.span, src.name_span, "source")
        for t in src.tables:
            s.children.append(Symbol(t.name, "table", t.node.span, t.name_span, "table", _columns(t.node)))
        out.append(s)
    return out


# ------------------------------------------------------------------------------------------------
# inlay hints


@dataclass(slots=True)
class Hint:
    line: int
    col: int
    label: str
    tooltip: str
    target: Loc | None = None  # the line the value came from


def _where(s: Setting | None, root: str) -> tuple[str, Loc | None]:
    if s is None:
        return "default", None
    return f"{os.path.relpath(s.path, root)}:{s.key_node.span.line + 1}", s.loc


def window_of(node: Node, regime: str) -> tuple[str, Setting | None, str]:
    """(short window text, the setting it came from, explanation) for a model under ``regime``."""
    from freshlens.planner.core import build_after, humantime
    from freshlens.planner.dbt_state import tolerance

    if regime == "dbt-state":
        t, policy, setting, source = tolerance(node)
        if t is None:
            return "?", setting, source
        return humantime(t) + (" · all" if policy == "all" else ""), setting, f"lag_tolerance: {source}"
    w, upd, setting, notes = build_after(node)
    if w is None:
        return "?", setting, "; ".join(notes)
    if setting is None:
        return "no build_after", None, "no build_after: builds whenever upstream has new data"
    return (
        humantime(w) + (" · all" if upd == "all" else ""),
        setting,
        f"build_after {humantime(w)}, updates_on {upd}",
    )


def inlay_hints(
    idx: ProjectIndex, path: str, regime: str, lines: list[str], first: int, last: int
) -> list[Hint]:
    """Hints for the models described in (YAML) or defined by (SQL) ``path``, within lines first..last."""
    out: list[Hint] = []
    for node in idx.nodes_in_file(path):
        if node.resource_type != "model":
            continue
        text, setting, why = window_of(node, regime)
        where, target = _where(setting, idx.dir)
        label = f"⏱ {text} · {where}"
        tooltip = f"{node.display}: {why} (set by {setting.describe() if setting else 'the default'})"
        if node.props_path == path and node.props is not None:
            sp = node.props.name_span
            if first <= sp.line <= last:
                out.append(Hint(sp.end_line, sp.end_col, label, tooltip, target))
        if node.path == path and first <= 0 <= last:
            out.append(Hint(0, len(lines[0]) if lines else 0, label, tooltip, target))
    return out
