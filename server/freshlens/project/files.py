"""Parse each kind of dbt file once into plain, position-carrying records.

Nothing here looks at other files: linking (refs, inheritance, precedence) happens in
``freshlens.index``. Every parser returns a record and never raises on bad input: problems are
recorded as ``ParseProblem`` with the exact range.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from freshlens.model import Dynamic, Loc, ParseProblem, Severity, Span
from freshlens.project.limits import MAX_NESTING
from freshlens.project.sqlscan import ConfigCall, RefCall, SqlScan, scan_sql
from freshlens.project.text import LineIndex
from freshlens.project.yamlpos import YamlError, YamlLimit, YMap, YNode, YPair, YScalar, YSeq, parse_yaml

# ------------------------------------------------------------------------------------------------
# YAML helpers shared by the parsers


def yaml_problems(path: str, node: YNode | None, out: list[ParseProblem]) -> None:
    """Record duplicate keys anywhere in a YAML tree (FL007)."""
    if node is None:
        return
    stack: list[YNode] = [node]
    seen: set[int] = set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if isinstance(n, YMap):
            for first, dup in n.duplicates:
                out.append(
                    ParseProblem(
                        "FL007",
                        f"`{dup.value}` is set twice in this mapping; YAML keeps only the last one "
                        f"(line {dup.span.line + 1}) and drops the first (line {first.span.line + 1}). "
                        "Remove one of them.",
                        Loc(path, dup.span),
                        Severity.WARNING,
                    )
                )
            stack.extend(p.value for p in n.items)
        elif isinstance(n, YSeq):
            stack.extend(n.items)


def not_analysed(path: str, why: str, span: Span | None = None) -> ParseProblem:
    """FL011: freshlens did not analyse (part of) this file; ``why`` names the limit or the cause."""
    return ParseProblem(
        "FL011",
        f"freshlens did not analyse this file: {why}. Its configs, refs and sources are not checked.",
        Loc(path, span or Span(0, 0, 0, 0)),
        Severity.WARNING,
    )


def _top_mapping(path: str, node: YNode | None, what: str, problems: list[ParseProblem]) -> YMap | None:
    """The document's top-level mapping; any other top-level value is reported (dbt rejects it)."""
    if node is None or isinstance(node, YMap):
        return node
    found = "a list" if isinstance(node, YSeq) else f"the value {str(node.value)[:40]!r}"
    problems.append(
        ParseProblem(
            "FL001",
            f"{what} must be a mapping of keys at the top level, but it holds {found}; "
            "dbt cannot load it. Write it as `key: value` lines.",
            Loc(path, Span(node.span.line, node.span.col, node.span.line, node.span.col + 1)),
        )
    )
    return None


def _load_yaml(path: str, text: str, problems: list[ParseProblem]) -> YNode | None:
    dups: list[YMap] = []
    try:
        node = parse_yaml(text, dups)
    except YamlLimit as exc:
        problems.append(not_analysed(path, exc.message, exc.span))
        return None
    except YamlError as exc:
        problems.append(
            ParseProblem(
                "FL001",
                f"YAML syntax error: {exc.message}. dbt cannot read this file until it is fixed.",
                Loc(path, exc.span),
            )
        )
        return None
    for m in dups:
        yaml_problems(path, YMap([], m.span, m.duplicates), problems)
    return node


def scalar_str(node: YNode | None) -> str | None:
    if isinstance(node, YScalar) and isinstance(node.value, str):
        return node.value
    return None


# ------------------------------------------------------------------------------------------------
# dbt_project.yml


@dataclass(slots=True)
class ProjectFile:
    path: str
    root: YMap | None
    name: str | None
    name_span: Span | None
    profile: str | None
    model_paths: list[str]
    seed_paths: list[str]
    snapshot_paths: list[str]
    analysis_paths: list[str]
    test_paths: list[str]
    macro_paths: list[str]
    packages_install_path: str
    target_path: str
    problems: list[ParseProblem] = field(default_factory=list)
    # folder path -> (settings, deepest map reached): filled by freshlens.index.project_settings
    settings_cache: dict[tuple[str, ...], Any] = field(default_factory=dict)

    def tree(self, resource: str) -> YMap | None:
        if self.root is None:
            return None
        node = self.root.get(resource)
        return node if isinstance(node, YMap) else None


def _paths(root: YMap | None, key: str, default: list[str]) -> list[str]:
    if root is None:
        return default
    node = root.get(key)
    if isinstance(node, YSeq):
        out = [str(i.value) for i in node.items if isinstance(i, YScalar) and i.value is not None]
        return out or default
    if isinstance(node, YScalar) and isinstance(node.value, str):
        return [node.value]
    return default


def parse_project_file(path: str, text: str) -> ProjectFile:
    problems: list[ParseProblem] = []
    root = _top_mapping(path, _load_yaml(path, text, problems), "dbt_project.yml", problems)
    name_node = root.get("name") if root else None
    name = scalar_str(name_node)
    snode = root.get("snapshot-paths") if root else None
    return ProjectFile(
        path=path,
        root=root,
        name=name,
        name_span=name_node.span if name_node is not None else None,
        profile=scalar_str(root.get("profile")) if root else None,
        model_paths=_paths(root, "model-paths", ["models"]),
        seed_paths=_paths(root, "seed-paths", ["seeds"]),
        snapshot_paths=_paths(root, "snapshot-paths", ["snapshots"]) if snode is not None else ["snapshots"],
        analysis_paths=_paths(root, "analysis-paths", ["analyses"]),
        test_paths=_paths(root, "test-paths", ["tests"]),
        macro_paths=_paths(root, "macro-paths", ["macros"]),
        packages_install_path=(scalar_str(root.get("packages-install-path")) if root else None)
        or "dbt_packages",
        target_path=(scalar_str(root.get("target-path")) if root else None) or "target",
        problems=problems,
    )


# ------------------------------------------------------------------------------------------------
# Properties YAML (models/*.yml)

NODE_KINDS = ("models", "seeds", "snapshots", "analyses")


@dataclass(slots=True)
class PropsEntry:
    """One ``- name: x`` entry under ``models:`` / ``seeds:`` / ``snapshots:`` / ``analyses:``."""

    kind: str
    name: str
    name_span: Span
    node: YMap
    config: YMap | None
    versions: list[tuple[str, Span, YMap]] = field(default_factory=list)  # (v, span of v, entry)
    latest_version: str | None = None


@dataclass(slots=True)
class TableEntry:
    name: str
    name_span: Span
    node: YMap
    config: YMap | None


@dataclass(slots=True)
class SourceEntry:
    name: str
    name_span: Span
    node: YMap
    config: YMap | None
    tables: list[TableEntry] = field(default_factory=list)


@dataclass(slots=True)
class PropsFile:
    path: str
    root: YMap | None
    entries: list[PropsEntry] = field(default_factory=list)
    sources: list[SourceEntry] = field(default_factory=list)
    problems: list[ParseProblem] = field(default_factory=list)


def _config_of(entry: YMap) -> YMap | None:
    c = entry.get("config")
    return c if isinstance(c, YMap) else None


def parse_props_file(path: str, text: str) -> PropsFile:
    problems: list[ParseProblem] = []
    root = _top_mapping(path, _load_yaml(path, text, problems), "a properties file", problems)
    out = PropsFile(path, root, problems=problems)
    if out.root is None:
        return out
    for kind in NODE_KINDS:
        seq = out.root.get(kind)
        if not isinstance(seq, YSeq):
            continue
        for item in seq.items:
            if not isinstance(item, YMap):
                continue
            name_node = item.get("name")
            if not isinstance(name_node, YScalar) or name_node.value is None:
                continue
            entry = PropsEntry(kind, str(name_node.value), name_node.span, item, _config_of(item))
            lv = item.get("latest_version")
            if isinstance(lv, YScalar) and lv.value is not None:
                entry.latest_version = str(lv.value)
            versions = item.get("versions")
            if isinstance(versions, YSeq):
                for v in versions.items:
                    if isinstance(v, YMap):
                        vnode = v.get("v")
                        if isinstance(vnode, YScalar) and vnode.value is not None:
                            entry.versions.append((_version_text(vnode.value), vnode.span, v))
            out.entries.append(entry)
    seq = out.root.get("sources")
    if isinstance(seq, YSeq):
        for item in seq.items:
            if not isinstance(item, YMap):
                continue
            name_node = item.get("name")
            if not isinstance(name_node, YScalar) or name_node.value is None:
                continue
            src = SourceEntry(str(name_node.value), name_node.span, item, _config_of(item))
            tables = item.get("tables")
            if isinstance(tables, YSeq):
                for t in tables.items:
                    if not isinstance(t, YMap):
                        continue
                    tn = t.get("name")
                    if isinstance(tn, YScalar) and tn.value is not None:
                        src.tables.append(TableEntry(str(tn.value), tn.span, t, _config_of(t)))
            out.sources.append(src)
    return out


def _version_text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


# ------------------------------------------------------------------------------------------------
# SQL files (models, snapshots, analyses)


@dataclass(slots=True)
class SqlFile:
    path: str
    text: str
    scan: SqlScan
    problems: list[ParseProblem] = field(default_factory=list)
    snapshot_blocks: list[tuple[str, Span]] = field(default_factory=list)

    @property
    def configs(self) -> list[ConfigCall]:
        return self.scan.configs

    @property
    def refs(self) -> list[RefCall]:
        return self.scan.refs


def parse_sql_file(path: str, text: str) -> SqlFile:
    scan = scan_sql(text)
    problems = [
        ParseProblem(
            "FL002",
            f"Jinja syntax error: {p.message}. dbt will fail to parse this file.",
            Loc(path, p.span),
        )
        if p.code == "FL002"
        else ParseProblem(p.code, p.message + ".", Loc(path, p.span), Severity.WARNING)
        for p in scan.problems
    ]
    return SqlFile(path, text, scan, problems)


# ------------------------------------------------------------------------------------------------
# Python models


@dataclass(slots=True)
class PyFile:
    path: str
    text: str
    configs: list[ConfigCall]
    refs: list[RefCall]
    problems: list[ParseProblem] = field(default_factory=list)


def _py_value(node: ast.AST, lines: LineIndex, offsets: list[int], text: str) -> YNode:
    def span(n: ast.AST) -> Span:
        return _ast_span(n, lines, offsets, text)

    if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float | bool | type(None)):
        tag = "null" if node.value is None else type(node.value).__name__
        return YScalar(node.value, span(node), tag, isinstance(node.value, str))
    if isinstance(node, ast.Dict):
        m = YMap([], span(node))
        for k, v in zip(node.keys, node.values, strict=True):
            if isinstance(k, ast.Constant) and isinstance(k.value, str):
                m.items.append(
                    YPair(YScalar(k.value, span(k), "str", True), _py_value(v, lines, offsets, text))
                )
        return m
    if isinstance(node, ast.List | ast.Tuple):
        return YSeq([_py_value(e, lines, offsets, text) for e in node.elts], span(node))
    seg = ast.get_source_segment(text, node) or ""
    return YScalar(Dynamic(seg), span(node), "dynamic")


def _ast_span(n: ast.AST, lines: LineIndex, offsets: list[int], text: str) -> Span:
    # ast columns are UTF-8 byte offsets; convert to code points using the line text.
    def conv(lineno: int, col: int) -> tuple[int, int]:
        start = offsets[lineno - 1]
        end = offsets[lineno] if lineno < len(offsets) else len(text)
        line_text = text[start:end]
        return lineno - 1, len(line_text.encode("utf-8")[:col].decode("utf-8", errors="ignore"))

    a = conv(n.lineno, n.col_offset)  # type: ignore[attr-defined]
    b = conv(n.end_lineno or n.lineno, n.end_col_offset or 0)  # type: ignore[attr-defined]
    return Span(a[0], a[1], b[0], b[1])


class _TooDeep(Exception):
    pass


def _check_depth(tree: ast.AST) -> None:
    """Raise _TooDeep when literals/calls nest beyond MAX_NESTING (as the SQL scanner's limit)."""
    nested = (ast.Dict, ast.List, ast.Tuple, ast.Set, ast.Call)
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, nested):
            depth += 1
            if depth > MAX_NESTING:
                raise _TooDeep
        stack.extend((c, depth) for c in ast.iter_child_nodes(node))


def parse_python_file(path: str, text: str) -> PyFile:
    out = PyFile(path, text, [], [])
    try:
        tree = ast.parse(text)
        _check_depth(tree)
    except (RecursionError, MemoryError, _TooDeep):
        out.problems.append(not_analysed(path, f"it nests expressions more than {MAX_NESTING} levels deep"))
        return out
    except ValueError:  # NUL bytes (Python 3.11 raises ValueError, later versions SyntaxError)
        out.problems.append(not_analysed(path, "it holds NUL bytes, so it is not Python source"))
        return out
    except SyntaxError as exc:
        line = max((exc.lineno or 1) - 1, 0)
        col = max((exc.offset or 1) - 1, 0)
        out.problems.append(
            ParseProblem(
                "FL002",
                f"Python syntax error: {exc.msg}. dbt will fail to parse this model.",
                Loc(path, Span(line, col, line, col + 1)),
            )
        )
        return out
    lines = LineIndex(text)
    offsets = lines.starts
    for n in ast.walk(tree):
        if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)):
            continue
        if not (isinstance(n.func.value, ast.Name) and n.func.value.id == "dbt"):
            continue
        attr = n.func.attr
        sp = _ast_span(n, lines, offsets, text)
        if attr == "config":
            args = YMap([], sp)
            for kw in n.keywords:
                if kw.arg is None:
                    continue
                kspan = _ast_span(kw, lines, offsets, text)
                key = YScalar(kw.arg, Span(kspan.line, kspan.col, kspan.line, kspan.col + len(kw.arg)), "str")
                args.items.append(YPair(key, _py_value(kw.value, lines, offsets, text)))
            out.configs.append(ConfigCall(args, sp))
        elif attr in ("ref", "source"):
            pos: list[str | None] = []
            dynamic = False
            version = None
            for a in n.args:
                if isinstance(a, ast.Constant) and isinstance(a.value, str):
                    pos.append(a.value)
                else:
                    pos.append(None)
                    dynamic = True
            for kw in n.keywords:
                if kw.arg in ("v", "version"):
                    if isinstance(kw.value, ast.Constant):
                        version = str(kw.value.value)
                    else:
                        dynamic = True
            out.refs.append(RefCall(attr, pos, version, sp, dynamic or not pos))
    # ast.walk is breadth-first: keep file order, as for SQL
    out.refs.sort(key=lambda r: (r.span.line, r.span.col))
    out.configs.sort(key=lambda c: (c.span.line, c.span.col))
    return out
