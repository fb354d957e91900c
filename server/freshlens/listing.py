"""``freshlens ls``: the index as dbt would list it, in ``manifest.json``'s key names and value shapes.

Nodes (models, seeds, snapshots, of the root project and its installed packages) and sources, so
that ``jq`` scripts written for manifests work on the output and it can be diffed against the
manifest that ``dbt parse`` writes. What freshlens could not resolve is never guessed: a value
is ``{"dynamic": "<the Jinja text>"}``, and every ``ref()``/``source()`` that could not be linked is
listed under the node's ``freshlens.unresolved`` (the one key that is not dbt's), so a reader knows
where the DAG may be incomplete.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from freshlens.index import Node, ProjectIndex, SourceTable, UnresolvedRef, plain, project_settings
from freshlens.model import Dynamic, Span
from freshlens.project.yamlpos import YMap

LISTING_VERSION = 1

# dbt's defaults for what a node's config always holds in manifest.json
_DEFAULT_MATERIALIZED = {"model": "view", "seed": "seed", "snapshot": "snapshot"}


def jsonable(value: Any) -> Any:
    """A config value as JSON: ``Dynamic`` becomes ``{"dynamic": text}``, containers recursively."""
    if isinstance(value, Dynamic):
        return {"dynamic": value.text}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _model_freshness(value: Any) -> Any:
    """Model ``freshness`` as dbt stores it: ``build_after.updates_on`` defaults to ``any``."""
    if isinstance(value, dict):
        ba = value.get("build_after")
        if isinstance(ba, dict) and "updates_on" not in ba:
            value = {**value, "build_after": {**ba, "updates_on": "any"}}
    return jsonable(value)


def _rel_path(idx: ProjectIndex, node_package: str, path: str | None) -> str | None:
    if path is None:
        return None
    for pkg in [idx.root, *idx.packages]:
        if (pkg.project.name or os.path.basename(pkg.dir)) == node_package:
            return os.path.relpath(path, pkg.dir).replace(os.sep, "/")
    return os.path.relpath(path, idx.root.dir).replace(os.sep, "/")


def _call_text(u: UnresolvedRef, texts: Mapping[str, str]) -> str:
    """The user's own text of a ref()/source() call (by its span), or a reconstruction of it."""
    text = texts.get(u.path)
    sp: Span = u.call.span
    if text is not None:
        lines = text.splitlines()
        if sp.line == sp.end_line and sp.line < len(lines):
            got = lines[sp.line][sp.col : sp.end_col]
            if got:
                return got
    return f"{u.call.kind}({u.call.text_args})"


def node_enabled(node: Node) -> Any:
    """``True``/``False`` when the config says so statically, ``Dynamic`` when Jinja decides."""
    v = node.eff("enabled").value
    return True if v is None else v


def node_entry(idx: ProjectIndex, node: Node, unresolved: list[dict[str, Any]]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for key in sorted(node.effective):
        eff = node.effective[key]
        if eff.value is None:
            continue
        config[key] = _model_freshness(eff.value) if key == "freshness" else jsonable(eff.value)
    enabled = jsonable(node_enabled(node))
    config["enabled"] = enabled
    config["materialized"] = jsonable(node.materialized or _DEFAULT_MATERIALIZED[node.resource_type])
    config.setdefault("freshness", None)
    config = dict(sorted(config.items()))
    path = node.path if node.path is not None else node.props_path
    return {
        "unique_id": node.unique_id,
        "resource_type": node.resource_type,
        "package_name": node.package,
        "name": node.name,
        "version": node.version,
        "original_file_path": _rel_path(idx, node.package, path),
        "fqn": list(node.fqn),
        "enabled": enabled,
        "depends_on": {"nodes": list(node.parents)},
        "config": config,
        "freshlens": {"unresolved": unresolved},
    }


def _source_enabled(idx: ProjectIndex, st: SourceTable) -> Any:
    """Table ``config.enabled`` over source ``config.enabled`` over ``dbt_project.yml`` ``sources:``
    (Jinja rendered as dbt renders YAML; dbt_project.yml's with the --vars only)."""
    from freshlens.render.project import rendered_value

    value, project = _source_enabled_raw(idx, st)
    return rendered_value(idx, st.package, value, project)


def _source_enabled_raw(idx: ProjectIndex, st: SourceTable) -> tuple[Any, bool]:
    for holder in (st.table.config, st.source.config):
        if isinstance(holder, YMap) and holder.get("enabled") is not None:
            return plain(holder.get("enabled")), False
    pkg = next(
        (p for p in [idx.root, *idx.packages] if (p.project.name or os.path.basename(p.dir)) == st.package),
        idx.root,
    )
    value: Any = True
    for _d, s in project_settings(pkg.project, "sources", [st.package, st.source_name, st.name]):
        if s.key == "enabled" and not s.is_null:
            value = plain(s.value)
    return value, True


def _raw_text(value: Any) -> Any:
    return value.text if isinstance(value, Dynamic) else jsonable(value)


def _threshold(th: Any) -> dict[str, Any]:
    if th is None:
        return {"count": None, "period": None}
    return {"count": jsonable(th.count), "period": jsonable(th.period)}


def source_entry(idx: ProjectIndex, st: SourceTable) -> dict[str, Any]:
    fr = st.freshness
    freshness: Any
    if fr.disabled_by is not None:
        freshness = None
    elif fr.dynamic and fr.warn_after is None and fr.error_after is None:
        freshness = {"dynamic": "freshness set by Jinja"}
    else:
        freshness = {
            "warn_after": _threshold(fr.warn_after),
            "error_after": _threshold(fr.error_after),
            "filter": jsonable(fr.filter),
        }
    enabled = jsonable(_source_enabled(idx, st))
    return {
        "unique_id": st.unique_id,
        "resource_type": "source",
        "package_name": st.package,
        "source_name": st.source_name,
        "name": st.name,
        "original_file_path": _rel_path(idx, st.package, st.path),
        "fqn": list(st.fqn),
        "enabled": enabled,
        "loaded_at_field": jsonable(st.loaded_at_field.value),
        # dbt keeps loaded_at_query as written (its Jinja is rendered at freshness time, not parse time)
        "loaded_at_query": _raw_text(st.loaded_at_query.value),
        "freshness": freshness,
        "config": {"enabled": enabled},
    }


def _unresolved_by_node(idx: ProjectIndex, texts: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for reason, group in (("computed", idx.dynamic_refs), ("not found", idx.unresolved)):
        for u in group:
            out.setdefault(u.node.unique_id, []).append(
                {"dynamic": _call_text(u, texts), "line": u.call.span.line + 1, "reason": reason}
            )
    return out


def list_index(
    idx: ProjectIndex, texts: Mapping[str, str] | None = None, files: set[str] | None = None
) -> dict[str, Any]:
    """The ``freshlens ls --format json`` document of one project (with its packages).

    ``texts`` (file -> text) lets unresolved calls be quoted as written; ``files`` keeps only the
    nodes and sources defined in those files.
    """
    unresolved = _unresolved_by_node(idx, texts or {})
    nodes = []
    for uid in sorted(idx.nodes):
        node = idx.nodes[uid]
        if files is not None and node.path not in files and node.props_path not in files:
            continue
        nodes.append(node_entry(idx, node, unresolved.get(uid, [])))
    sources = [
        source_entry(idx, idx.sources[uid])
        for uid in sorted(idx.sources)
        if files is None or idx.sources[uid].path in files
    ]
    return {"version": LISTING_VERSION, "nodes": nodes, "sources": sources}


def _short(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"dynamic"}:
        return f"<{value['dynamic']}>"
    return str(value)


def format_text(doc: Mapping[str, Any]) -> list[str]:
    """One line per node and source: id, materialization, enabled, parents, what is unresolved."""
    lines: list[str] = []
    for n in doc["nodes"]:
        en = n["enabled"]
        state = "" if en is True else ("  disabled" if en is False else f"  enabled={_short(en)}")
        parents = ", ".join(n["depends_on"]["nodes"]) or "-"
        lines.append(f"{n['unique_id']}  [{_short(n['config']['materialized'])}]{state}  <- {parents}")
        for u in n["freshlens"]["unresolved"]:
            lines.append(f"    unresolved ({u['reason']}) line {u['line']}: {u['dynamic']}")
    for s in doc["sources"]:
        en = s["enabled"]
        state = "" if en is True else ("  disabled" if en is False else f"  enabled={_short(en)}")
        how = (
            "loaded_at_query" if s["loaded_at_query"] else ("loaded_at_field" if s["loaded_at_field"] else "")
        )
        lines.append(f"{s['unique_id']}{state}" + (f"  ({how})" if how else ""))
    return lines


def parse_vars(text: str) -> dict[str, Any]:
    """``--vars`` as dbt reads it: a YAML (or JSON) mapping. Raises ValueError with what to fix."""
    import yaml

    if not text.strip():
        return {}
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"--vars is not valid YAML ({exc.__class__.__name__}): {text!r}") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"--vars must be a YAML mapping such as '{{key: value}}', not {text!r}")
    return {str(k): v for k, v in value.items()}


def ls_cmd(paths: list[str], fmt: str, vars_text: str, env_vars: bool = False) -> int:
    """``freshlens ls``: print the listing of every project under ``paths`` (files narrow it)."""
    import json
    import sys

    from freshlens.cli import _project_of
    from freshlens.workspace import Workspace, keep_until_exit

    try:
        user_vars = parse_vars(vars_text)
    except ValueError as exc:
        print(f"freshlens: error: {exc}", file=sys.stderr)
        return 2
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        print(f"freshlens: error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    roots = [os.path.normpath(os.path.abspath(p)) for p in paths]
    files = {r for r in roots if os.path.isfile(r)}
    folders = sorted({r if os.path.isdir(r) else _project_of(r) for r in roots})
    ws = keep_until_exit(Workspace(folders, vars=user_vars, env=dict(os.environ) if env_vars else None))
    ws.load()
    projects = [p for _k, p in sorted(ws.projects.items()) if p.index is not None]
    if not projects:
        print(f"freshlens: error: no dbt_project.yml found under {', '.join(paths)}", file=sys.stderr)
        return 2
    texts = {p: v.text for p, v in ws.cache.items()}
    doc: dict[str, Any] = {"version": LISTING_VERSION, "nodes": [], "sources": []}
    for proj in projects:
        assert proj.index is not None
        one = list_index(proj.index, texts, files or None)
        doc["nodes"].extend(one["nodes"])
        doc["sources"].extend(one["sources"])
    if fmt == "json":
        print(json.dumps(doc, indent=2))
    else:
        for line in format_text(doc):
            print(line)
        disabled = sum(1 for n in doc["nodes"] if n["enabled"] is False)
        flagged = sum(1 for n in doc["nodes"] if n["freshlens"]["unresolved"])
        print(
            f"{len(doc['nodes'])} node(s) ({disabled} disabled, {flagged} with unresolved refs), "
            f"{len(doc['sources'])} source table(s) in {len(projects)} project(s)",
            file=sys.stderr,
        )
    return 0


__all__ = [
    "LISTING_VERSION",
    "format_text",
    "jsonable",
    "list_index",
    "ls_cmd",
    "node_entry",
    "parse_vars",
    "source_entry",
]
