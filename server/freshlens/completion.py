"""Completion in dbt_project.yml, properties YAML and SQL ``config()`` / ``ref()`` / ``source()``.

Pure: takes the document's text (as the editor has it, often half-typed and unparsable), the cursor
and the project index, and returns plain items. The context is read from the text around the cursor
(indentation for YAML, brackets for Jinja), never from a parse of the whole document, so completion
works while the file is broken.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from freshlens import configkeys as ck
from freshlens.index import KNOWN_CONFIG_KEYS, Node, ProjectIndex
from freshlens.rules.v2_resolve import V2, engine_for

MAX_ITEMS = 200  # above this the list is cut and marked incomplete: the client asks again as you type

KEY, VALUE, MODEL, SOURCE, TABLE, PACKAGE, VERSION, FOLDER, SNIPPET = (
    "key",
    "value",
    "model",
    "source",
    "table",
    "package",
    "version",
    "folder",
    "snippet",
)


@dataclass(slots=True)
class Item:
    label: str
    kind: str  # one of the constants above
    insert: str  # the text replacing the word at the cursor
    detail: str = ""
    sort: str = ""  # rank: smaller first
    snippet: bool = False  # ``insert`` is an LSP snippet
    data: dict[str, str] = field(default_factory=dict)  # for resolve


@dataclass(slots=True)
class Completions:
    items: list[Item]
    start_col: int  # the word being completed spans [start_col, cursor) on the cursor's line
    incomplete: bool = False


def _rank(keys: list[str], first: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    out = []
    for k in keys:
        r = first.index(k) if k in first else len(first)
        out.append((k, f"{r:02d}{k}"))
    return out


def model_config_keys() -> list[str]:
    """Config keys a model accepts, the state-aware ones first."""
    return sorted(KNOWN_CONFIG_KEYS | {"freshness", "state"}, key=lambda k: (k not in ck.FIRST, k))


# ------------------------------------------------------------------------------------------------
# YAML context from indentation

_KEY_LINE = re.compile(r"^(\s*)((?:-\s+)*)([^\s:#'\"][^:#]*?)\s*:(?:\s|$)")
_VALUE_AT = re.compile(r"^(\s*)((?:-\s+)*)([^\s:#'\"][^:#]*?)\s*:\s+(['\"]?)([^'\"\s]*)$")
_KEY_AT = re.compile(r"^(\s*)((?:-\s*)*)([\w+\-.]*)$")


def yaml_context(lines: list[str], line: int, col: int) -> tuple[list[str], str | None, int] | None:
    """(path of parent keys, key whose value is being typed or None, start column of the word).

    A ``-`` in the path marks a list item: ``models: - name: a\\n config:`` -> ``["models", "-", "config"]``.
    """
    cur = lines[line][:col] if line < len(lines) else ""
    value_key: str | None = None
    m = _VALUE_AT.match(cur)
    path: list[str] = []
    if m is not None:
        indent, dashes, value_key, _q, word = m.groups()
        start = col - len(word)
    else:
        k = _KEY_AT.match(cur)
        if k is None:
            return None
        indent, dashes, word = k.groups()
        start = col - len(word)
    level = len(indent)
    if dashes:  # `  - na|`: the first key of a list item; parents sit left of the dash
        path.append("-")
    for i in range(line - 1, -1, -1):
        text = lines[i]
        stripped = text.lstrip(" ")
        if not stripped.strip() or stripped.startswith("#"):
            continue
        ind = len(text) - len(stripped)
        if ind > level:
            continue
        km = _KEY_LINE.match(text)
        if stripped.startswith("- ") or stripped.rstrip() == "-":
            run = re.match(r"^(\s*)((?:-\s+)+)", text)
            key_col = run.end() if run else ind + 2
            if key_col > level:
                continue
            if key_col < level and km is not None:
                path.append(km.group(3).strip())
            path.append("-")
            level = ind
            continue
        if km is None:
            continue
        if ind < level or (ind == level and path[-1:] == ["-"] and _opens_block(text)):
            path.append(km.group(3).strip())
            level = ind
            if ind == 0:
                break
    path.reverse()
    return path, value_key, start


def _opens_block(text: str) -> bool:
    """``key:`` with nothing after the colon (an indentless list may follow at the same column)."""
    s = text.split("#", 1)[0].rstrip()
    return s.endswith(":")


# ------------------------------------------------------------------------------------------------
# what is valid where


def _key_items(
    keys: list[str] | tuple[str, ...], plus: bool, first: tuple[str, ...] = (), detail: str = ""
) -> list[Item]:
    items = []
    for k, rank in _rank(list(keys), first):
        label = f"+{k}" if plus else k
        items.append(Item(label, KEY, label + ": ", detail or "config", rank, data={"key": k}))
    return items


def _value_items(values: tuple[str, ...] | list[str], quote: str = "") -> list[Item]:
    return [Item(v, VALUE, f"{quote}{v}{quote}", "", f"{i:03d}") for i, v in enumerate(values)]


def _lag_items(quote: str = "") -> list[Item]:
    out = _value_items(ck.LAG_TOLERANCES, quote)
    for it in out:
        it.detail = "duration"
    out.append(
        Item(
            "<number><unit>",
            SNIPPET,
            f"{quote}${{1:4}}${{2|m,h,d,w,s|}}{quote}",
            "duration snippet",
            "999",
            snippet=True,
        )
    )
    return out


def _model_freshness_keys(idx: ProjectIndex | None) -> list[str]:
    """A model's ``freshness`` keys: the SLA keys too on a dbt v2 project (spec dbt-v2-freshness.md G1);
    elsewhere dbt Core drops them (FL106), so they are not offered."""
    if idx is not None and engine_for(idx) == V2:
        return ["build_after", *ck.MODEL_SLA_KEYS]
    return ["build_after"]


def _config_level(path: list[str], plus: bool) -> list[Item] | None:
    """Inside a config mapping: the keys of ``freshness`` / ``state`` / ``build_after`` blocks."""
    if not path:
        return None
    last = path[-1].lstrip("+")
    if last == "build_after":
        return _key_items(sorted(ck.BUILD_AFTER_KEYS), False, ("count", "period", "updates_on"))
    if last == "state":
        return _key_items(sorted(ck.STATE_KEYS), False, ("lag_tolerance", "require_fresh_data_from"))
    if last in ("lag_tolerance", "warn_after", "error_after"):
        return _key_items(list(ck.THRESHOLD_KEYS), False)
    return None


def _value_for(key: str, quote: str = "") -> list[Item] | None:
    k = key.lstrip("+")
    if k == "lag_tolerance":
        return _lag_items(quote)
    vals = ck.ENUMS.get(k)
    return _value_items(vals, quote) if vals else None


def _project_yaml(idx: ProjectIndex | None, path: list[str], value_key: str | None) -> list[Item]:
    if value_key is not None:
        return _value_for(value_key) or []
    if not path:
        return _key_items(ck.TOP_PROJECT_KEYS, False, detail="dbt_project.yml")
    resource = path[0]
    if resource not in ("models", "seeds", "snapshots", "sources", "data_tests"):
        return []
    inner = path[1:]
    plus_at = next((i for i, p in enumerate(inner) if p.startswith("+")), None)
    if plus_at is not None:  # inside a +config mapping
        cfg = inner[plus_at:]
        if resource == "sources" and cfg[0] == "+freshness":
            if len(cfg) == 1:
                return _key_items(sorted(ck.FRESHNESS_KEYS), False, ("warn_after", "error_after"))
            if cfg[-1] in ("warn_after", "error_after"):
                return _key_items(list(ck.THRESHOLD_KEYS), False)
            return []
        if cfg[0] == "+freshness" and len(cfg) == 1:
            return _key_items(_model_freshness_keys(idx), False, ("build_after",))
        return _config_level(cfg, True) or []
    keys = (
        model_config_keys()
        if resource != "sources"
        else ["freshness", "enabled", "tags", "meta", "loaded_at_field", "loaded_at_query"]
    )
    items = _key_items(keys, True, ck.FIRST)
    items.extend(_folders(idx, resource, inner))
    return items


def _folders(idx: ProjectIndex | None, resource: str, inner: list[str]) -> list[Item]:
    """Project names at the first level, then the sub-folders of the models at that place."""
    if idx is None or resource not in ("models", "seeds", "snapshots"):
        return []
    kind = resource[:-1]
    seen: set[str] = set()
    depth = len(inner)
    for n in idx.nodes.values():
        if n.resource_type != kind or len(n.fqn) <= depth + 1 or n.fqn[:depth] != inner:
            continue
        seen.add(n.fqn[depth])
    return [Item(f, FOLDER, f + ":", "project" if depth == 0 else "folder", f"50{f}") for f in sorted(seen)]


def _props_yaml(
    idx: ProjectIndex | None, yaml_path: str, path: list[str], value_key: str | None
) -> list[Item]:
    p = [x for x in path]
    if value_key is not None:
        if value_key == "name" and p in (["models", "-"], ["seeds", "-"], ["snapshots", "-"]):
            return _missing_entries(idx, yaml_path, p[0][:-1])
        if "config" in p or "freshness" in p or "state" in p:
            return _value_for(value_key) or []
        return _value_for(value_key) or [] if value_key in ("access",) else []
    if not p:
        return _key_items(ck.TOP_PROPS_KEYS, False, detail="properties")
    top = p[0]
    rest = p[1:]
    if top in ("models", "seeds", "snapshots"):
        if rest == ["-"]:
            return _key_items(ck.MODEL_ENTRY_KEYS, False, ("name", "description", "config"), "property")
        if rest[-2:] == ["versions", "-"] and len(rest) == 3:
            return _key_items(ck.VERSION_ENTRY_KEYS, False, ("v", "defined_in", "config"), "property")
        if rest[-2:] == ["columns", "-"]:
            return _key_items(ck.COLUMN_KEYS, False, ("name",), "column")
        if rest[-1:] == ["config"]:
            return _key_items(model_config_keys(), False, ck.FIRST)
        if "config" in rest:
            cfg = rest[rest.index("config") + 1 :]
            if cfg == ["freshness"]:
                return _key_items(_model_freshness_keys(idx), False, ("build_after",))
            return _config_level(cfg, False) or []
        return []
    if top == "sources":
        if rest == ["-"]:
            return _key_items(ck.SOURCE_KEYS, False, ("name", "schema", "tables"), "source")
        if rest == ["-", "tables", "-"]:
            return _key_items(ck.TABLE_KEYS, False, ("name", "identifier"), "table")
        if rest[-2:] == ["columns", "-"]:
            return _key_items(ck.COLUMN_KEYS, False, ("name",), "column")
        if rest[-1:] == ["config"]:
            return _key_items(
                ["freshness", "loaded_at_field", "loaded_at_query", "enabled", "tags", "meta"], False
            )
        if rest[-1:] == ["freshness"]:
            return _key_items(sorted(ck.FRESHNESS_KEYS), False, ("warn_after", "error_after"))
        if rest[-1:] in (["warn_after"], ["error_after"]):
            return _key_items(list(ck.THRESHOLD_KEYS), False)
    return []


def _missing_entries(idx: ProjectIndex | None, yaml_path: str, kind: str) -> list[Item]:
    """Model files of this project that have no properties entry yet, nearest folder first."""
    if idx is None:
        return []
    here = os.path.dirname(yaml_path)
    out = []
    for n in idx.nodes.values():
        if n.resource_type != kind or n.props is not None or n.path is None or n.package != idx.name:
            continue
        d = os.path.dirname(n.path)
        rank = 0 if d == here else (1 if d.startswith(here + os.sep) else 2)
        rel = os.path.relpath(n.path, idx.dir)
        out.append(
            Item(n.name, MODEL, n.name, f"{rel} (no entry yet)", f"{rank}{n.name}", data={"uid": n.unique_id})
        )
    return out


# ------------------------------------------------------------------------------------------------
# SQL: ref(), source(), config()

_IDENT_TAIL = re.compile(r"[\w.+-]*$")
_REF_ARG1 = re.compile(r"\bref\(\s*(['\"])([\w.]*)$")
_REF_ARG2 = re.compile(r"\bref\(\s*(['\"])(\w+)\1\s*,\s*(['\"])([\w.]*)$")
_REF_VERSION = re.compile(
    r"\bref\(\s*(['\"])(?:\w+\1\s*,\s*['\"])?(\w+)['\"]\s*,\s*(?:v|version)\s*=\s*(['\"]?)([\w.]*)$"
)
_SRC_ARG1 = re.compile(r"\bsource\(\s*(['\"])(\w*)$")
_SRC_ARG2 = re.compile(r"\bsource\(\s*(['\"])(\w+)\1\s*,\s*(['\"])(\w*)$")
_CONFIG_OPEN = re.compile(r"\bconfig\s*\(")


# The refable nodes of the last indexes asked about (an index is rebuilt, not changed, when nodes
# come or go): index -> (node count, [(lower-case name, sort key, node)] sorted by sort key, packages).
_TARGETS: dict[int, tuple[ProjectIndex, int, list[tuple[str, str, Node]], list[str]]] = {}


def _refable(idx: ProjectIndex) -> tuple[list[tuple[str, str, Node]], list[str]]:
    got = _TARGETS.get(id(idx))
    if got is not None and got[0] is idx and got[1] == len(idx.nodes):
        return got[2], got[3]
    own_pkg = idx.name
    seen: set[tuple[str, str]] = set()
    out = []
    for n in idx.nodes.values():
        if n.resource_type not in ("model", "seed", "snapshot") or (n.package, n.name) in seen:
            continue
        seen.add((n.package, n.name))
        out.append((n.name.lower(), f"{0 if n.package == own_pkg else 1}{n.name}", n))
    out.sort(key=lambda t: t[1])
    packages = sorted({n.package for _, _, n in out} - {own_pkg})
    if len(_TARGETS) >= 4:
        _TARGETS.clear()
    _TARGETS[id(idx)] = (idx, len(idx.nodes), out, packages)
    return out, packages


def _ref_targets(idx: ProjectIndex, package: str | None, prefix: str = "") -> list[Item]:
    """Models, seeds and snapshots to ref (those whose name contains ``prefix``), and packages.

    At most ``MAX_ITEMS + 1`` of them, the first in the order :func:`complete` ranks them (names
    that start with the prefix, then names that contain it, each by sort key), one more than it
    shows so that it marks the list incomplete: a 10,000-model project makes no 10,000 items.
    """
    targets, packages = _refable(idx)
    picked: list[tuple[str, Node]] = []
    seen: set[str] = set()
    for starts in (True, False) if prefix else (True,):
        for low, sort, n in targets:
            if len(picked) > MAX_ITEMS:
                break
            if package is not None and n.package != package:
                continue
            if prefix and (low.startswith(prefix) != starts or prefix not in low):
                continue
            if n.name in seen:
                continue
            seen.add(n.name)
            picked.append((sort, n))
    base = idx.dir + os.sep
    out: list[Item] = []
    for sort, n in picked:
        if n.package == idx.name:
            where = n.path or n.unique_id
            where = where[len(base) :] if where.startswith(base) else where
            detail = f"{n.resource_type} · {where}"
        else:
            detail = f"{n.resource_type} · package {n.package}"
        out.append(Item(n.name, MODEL, n.name, detail, sort, data={"uid": n.unique_id}))
    if package is None:
        out.extend(Item(pkg, PACKAGE, pkg, "package", f"2{pkg}") for pkg in packages)
    return out


def _versions(idx: ProjectIndex, name: str) -> list[Item]:
    vs = sorted({n.version for n in idx.nodes.values() if n.name == name and n.version})
    return [Item(v, VERSION, v, f"version of {name}", f"{i:03d}") for i, v in enumerate(vs)]


def _sql_config_context(before: str) -> tuple[list[str], str | None, str] | None:
    """Inside an unclosed ``config(``: (path of dict keys, key whose value is typed, quote) or None."""
    opens = list(_CONFIG_OPEN.finditer(before))
    if not opens:
        return None
    start = opens[-1].end()
    body = before[start:]
    if "}}" in body or "%}" in body:
        return None
    # walk the call's arguments: brackets, strings, and the key before each `{`
    stack: list[str] = []  # keys of open dicts
    depth_paren = 0
    last_key: str | None = None
    i = 0
    in_str: str | None = None
    tok = ""
    pending_value_key: str | None = None
    while i < len(body):
        c = body[i]
        if in_str:
            if c == "\\":
                i += 2
                continue
            if c == in_str:
                in_str = None
                last_key = tok
                tok = ""
            else:
                tok += c
            i += 1
            continue
        if c in "'\"":
            in_str = c
            tok = ""
        elif c == "(":
            depth_paren += 1
        elif c == ")":
            if depth_paren == 0:
                return None  # the config() call is closed
            depth_paren -= 1
        elif c == "{":
            stack.append(pending_value_key or "")
            pending_value_key = None
        elif c == "}":
            if stack:
                stack.pop()
        elif c in ",":
            pending_value_key = None
        elif c == "=" and (i + 1 >= len(body) or body[i + 1] != "="):
            m = re.search(r"(\w+)\s*$", body[:i])
            pending_value_key = m.group(1) if m else None
        elif c == ":":
            pending_value_key = last_key
        i += 1
    if in_str is not None:
        # typing inside a string: a dict key (after `{` or `,`) or a value (after `:` / `=`)
        pre = body[: len(body) - len(tok) - 1].rstrip()
        if pre.endswith((":", "=")):
            return stack, pending_value_key, in_str + "!"
        return stack, None, in_str
    tail = re.search(r"([,({]|=|:)\s*\w*$", body)
    if tail is not None and tail.group(1) in ("=", ":"):
        return stack, pending_value_key, ""
    return stack, None, ""


def _sql_config(before: str, idx: ProjectIndex | None = None) -> list[Item] | None:
    got = _sql_config_context(before)
    if got is None:
        return None
    stack, value_key, quote = got
    in_value_str = quote.endswith("!")
    q = quote.rstrip("!")
    if value_key is not None:
        vals = _value_for(value_key, "" if in_value_str else "'")
        return vals or []
    if not stack:  # keyword arguments
        return [
            Item(k, KEY, f"{k}=", "config", rank, data={"key": k})
            for k, rank in _rank(model_config_keys(), ck.FIRST)
        ]
    inner = [s for s in stack if s]
    top = inner[-1] if inner else ""
    if top == "freshness":
        keys: list[str] = _model_freshness_keys(idx)
    elif top == "build_after":
        keys = ["count", "period", "updates_on"]
    elif top == "state":
        keys = sorted(ck.STATE_KEYS)
    elif top in ("lag_tolerance", "warn_after", "error_after"):
        keys = list(ck.THRESHOLD_KEYS)
    else:
        return []
    first = ("count", "period", "updates_on", "lag_tolerance", "require_fresh_data_from")
    out = []
    for k, rank in _rank(keys, first):
        ins = k if q else f"'{k}': "
        out.append(Item(k, KEY, ins, "config", rank, data={"key": k}))
    return out


def _sql(idx: ProjectIndex | None, before: str, prefix: str = "") -> list[Item]:
    if idx is None:
        return []
    m = _REF_VERSION.search(before)
    if m is not None:
        return _versions(idx, m.group(2))
    m = _REF_ARG2.search(before)
    if m is not None:
        pkg = m.group(2)
        return _ref_targets(idx, pkg, prefix)
    m = _REF_ARG1.search(before)
    if m is not None:
        return _ref_targets(idx, None, prefix)
    m = _SRC_ARG2.search(before)
    if m is not None:
        src = m.group(2)
        return [
            Item(
                st.name,
                TABLE,
                st.name,
                f"table of source {src} · {os.path.relpath(st.path, idx.dir)}",
                st.name,
                data={"uid": st.unique_id},
            )
            for st in sorted(idx.sources.values(), key=lambda s: s.name)
            if st.source_name == src
        ]
    m = _SRC_ARG1.search(before)
    if m is not None:
        names = sorted({st.source_name for st in idx.sources.values()})
        return [Item(n, SOURCE, n, "source", n) for n in names]
    return _sql_config(before, idx) or []


# ------------------------------------------------------------------------------------------------
# entry point


def complete(idx: ProjectIndex | None, path: str, text: str, line: int, col: int) -> Completions:
    """The completion items at (line, col) (code points) of ``path`` whose current text is ``text``."""
    lines = text.split("\n")
    cur = lines[line] if line < len(lines) else ""
    col = min(col, len(cur))
    before = cur[:col]
    word = _IDENT_TAIL.search(before)
    start = col - len(word.group(0)) if word else col
    items: list[Item]
    if path.endswith((".sql", ".py")):
        whole_before = "\n".join([*lines[max(0, line - 30) : line], before])
        m = re.search(r"[\w.]*$", before)
        start = col - len(m.group(0)) if m else col
        # the typed prefix narrows the 10,000 models before any item is made
        items = _sql(idx, whole_before, cur[start:col].lower().lstrip("+"))
    elif path.endswith((".yml", ".yaml")):
        ctx = yaml_context(lines, line, col)
        if ctx is None:
            return Completions([], col)
        ypath, value_key, start = ctx
        if os.path.basename(path) == "dbt_project.yml":
            items = _project_yaml(idx, ypath, value_key)
        else:
            items = _props_yaml(idx, path, ypath, value_key)
    else:
        items = []
    prefix = cur[start:col].lower().lstrip("+")
    if prefix:
        items = [it for it in items if prefix in it.label.lower() or it.kind == SNIPPET]
        items.sort(key=lambda it: (not it.label.lower().lstrip("+").startswith(prefix), it.sort))
    else:
        items.sort(key=lambda it: it.sort)
    incomplete = len(items) > MAX_ITEMS
    return Completions(items[:MAX_ITEMS], start, incomplete)


def resolve_doc(idx: ProjectIndex | None, data: dict[str, str]) -> str | None:
    """Documentation for an item, computed only when the editor shows it."""
    if "key" in data:
        return ck.doc_markdown(data["key"])
    uid = data.get("uid")
    if idx is None or not uid:
        return None
    node: Node | None = idx.nodes.get(uid)
    if node is not None:
        parts = [f"**{node.display}** ({node.resource_type}, {node.materialized})"]
        if node.path:
            parts.append(f"`{os.path.relpath(node.path, idx.dir)}`")
        fr = node.eff("freshness")
        if fr.setting is not None:
            parts.append(f"freshness: `{fr.value}` from {fr.setting.describe()}")
        st = node.eff("state")
        if st.setting is not None:
            parts.append(f"state: `{st.value}` from {st.setting.describe()}")
        if node.props is not None:
            desc = node.props.node.get("description")
            if desc is not None and isinstance(getattr(desc, "value", None), str):
                parts.append(str(desc.value))  # type: ignore[union-attr]
        return "\n\n".join(parts)
    src = idx.sources.get(uid)
    if src is not None:
        return f"**{src.display}** — `{os.path.relpath(src.path, idx.dir)}:{src.table.name_span.line + 1}`"
    return None
