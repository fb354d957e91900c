"""A project's parse context from its parsed files, and renders applied to the index.

``setup_for`` gathers what dbt's parse context needs from the already-parsed files (no I/O):
each package's ``vars:``, the root's ``dispatch:``, every macro, the user's var overrides and the
profile's target. ``render_model`` renders one model when ``Renderer.needs_render`` says so and puts
what the render saw on the node; ``resolve_yaml_values`` renders the Jinja strings of YAML configs
(``+enabled: "{{ var('x') | as_bool }}"``) the way dbt's native YAML rendering does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from freshlens.model import Dynamic
from freshlens.project.yamlpos import YMap, YSeq, to_plain
from freshlens.render.context import Setup, macros_in
from freshlens.render.nodes import NodeRender, Renderer
from freshlens.render.sandbox import RenderError

if TYPE_CHECKING:
    from freshlens.index import Node, PackageFiles, ProjectIndex, SourceTable


def _package_name(pkg: PackageFiles) -> str:
    return pkg.project.name or os.path.basename(pkg.dir)


def _dispatch(root: PackageFiles) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    node = root.project.root.get("dispatch") if root.project.root is not None else None
    if not isinstance(node, YSeq):
        return out
    for item in node.items:
        if not isinstance(item, YMap):
            continue
        ns, order = to_plain(item.get("macro_namespace")), to_plain(item.get("search_order"))
        if isinstance(ns, str) and isinstance(order, list):
            out[ns] = [str(p) for p in order]
    return out


def setup_for(
    root: PackageFiles,
    packages: list[PackageFiles],
    cli_vars: Mapping[str, Any] | None,
    target: Mapping[str, Any] | None,
    env: Mapping[str, str] | None = None,
) -> Setup:
    project_vars: dict[str, dict[str, Any]] = {}
    macros = {}
    for pkg in [root, *packages]:
        name = _package_name(pkg)
        values = to_plain(pkg.project.root.get("vars")) if pkg.project.root is not None else None
        project_vars[name] = dict(values) if isinstance(values, dict) else {}
        if pkg.macros:
            macros[name] = macros_in(name, pkg.macros)
    return Setup(
        root=_package_name(root),
        packages=[_package_name(p) for p in packages],
        project_vars=project_vars,
        cli_vars=dict(cli_vars or {}),
        target=dict(target or {}),
        dispatch=_dispatch(root),
        macros=macros,
        env=env,
    )


def render_model(idx: ProjectIndex, node: Node) -> NodeRender | None:
    """Render ``node`` if its scan is incomplete; on success its calls become the rendered ones."""
    renderer: Renderer | None = idx.renderer
    if renderer is None or node.path is None or node.language != "sql":
        return None
    if node.resource_type not in ("model", "snapshot"):
        return None
    sql = None
    for pkg in [idx.root, *idx.packages]:
        sql = (pkg.sql if node.resource_type == "model" else pkg.snapshots).get(node.path)
        if sql is not None:
            break
    if sql is None:
        return None
    text = sql.text if node.resource_type == "model" else snapshot_body(sql.text, node.name)
    if text is None or not renderer.needs_render(text, sql.scan):
        return None
    got = renderer.render_node(node.package, node.name, text, sql.scan, _model_meta(idx, node))
    if got.ok:
        node.configs, node.refs = list(got.configs), list(got.refs)
    return got


_SNAPSHOT = re.compile(r"\{%-?\s*snapshot\s+(\w+)\s*-?%\}(.*?)\{%-?\s*endsnapshot\s*-?%\}", re.DOTALL)


def snapshot_body(text: str, name: str) -> str | None:
    """The file with only snapshot ``name``'s body kept (the rest blanked, newlines kept, so lines stay)."""
    for m in _SNAPSHOT.finditer(text):
        if m.group(1) == name:
            start, end = m.span(2)
            return _blank(text[:start]) + text[start:end] + _blank(text[end:])
    return None


def _blank(part: str) -> str:
    return "".join(c if c == "\n" else " " for c in part)


def _model_meta(idx: ProjectIndex, node: Node) -> dict[str, Any]:
    """What dbt's parse-time ``model`` knows besides the name: fqn and the file's paths."""
    for pkg in [idx.root, *idx.packages]:
        if node.path is not None and node.path in pkg.rel:
            _root, rel = pkg.rel[node.path]
            original = os.path.relpath(node.path, pkg.dir).replace(os.sep, "/")
            return {"fqn": list(node.fqn), "path": rel.replace(os.sep, "/"), "original_file_path": original}
    return {"fqn": list(node.fqn)}


def _render_dynamic(renderer: Renderer, package: str, value: Any, project: bool = False) -> tuple[Any, bool]:
    """``value`` with every ``Dynamic`` inside rendered; False when one could not be.

    ``project``: the value is from dbt_project.yml, which dbt renders with the --vars only."""
    if isinstance(value, Dynamic):
        try:
            return renderer.render_value(package, value.text, project), True
        except RenderError:
            return value, False
        except Exception:  # the user's Jinja raised: keep it dynamic (said so in the listing)
            return value, False
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        ok = True
        for k, v in value.items():
            out[k], good = _render_dynamic(renderer, package, v, project)
            ok = ok and good
        return out, ok
    if isinstance(value, list):
        items = [_render_dynamic(renderer, package, v, project) for v in value]
        return [v for v, _ in items], all(g for _, g in items)
    return value, True


def _has_dynamic(value: Any) -> bool:
    if isinstance(value, Dynamic):
        return True
    if isinstance(value, dict):
        return any(_has_dynamic(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_dynamic(v) for v in value)
    return False


def resolve_yaml_values(idx: ProjectIndex, node: Node) -> None:
    """Render the Jinja strings of ``node``'s effective configs set in YAML (dbt_project.yml, properties)."""
    renderer: Renderer | None = idx.renderer
    if renderer is None:
        return
    for eff in node.effective.values():
        if eff.setting is None or eff.setting.layer == "sql" or eff.setting.conditional:
            continue
        if _has_dynamic(eff.value):
            project = eff.setting.layer == "dbt_project.yml"
            eff.value, _ok = _render_dynamic(renderer, node.package, eff.value, project)


def rendered_value(idx: ProjectIndex, package: str, value: Any, project: bool = False) -> Any:
    """``value`` with its Jinja strings rendered as dbt renders YAML (unchanged where that fails)."""
    renderer: Renderer | None = idx.renderer
    if renderer is None or not _has_dynamic(value):
        return value
    return _render_dynamic(renderer, package, value, project)[0]


def resolve_source_values(idx: ProjectIndex, st: SourceTable) -> None:
    """Render a source table's Jinja as dbt renders properties YAML: ``loaded_at_field``, the freshness
    thresholds and ``filter`` (``loaded_at_query`` is kept as written, as in manifest.json)."""
    if idx.renderer is None:
        return
    st.loaded_at_field.value = rendered_value(idx, st.package, st.loaded_at_field.value)
    fr = st.freshness
    for th in (fr.warn_after, fr.error_after):
        if th is not None:
            project = th.setting is not None and th.setting.layer == "dbt_project.yml"
            th.count = rendered_value(idx, st.package, th.count, project)
            th.period = rendered_value(idx, st.package, th.period, project)
    fr.filter = rendered_value(idx, st.package, fr.filter)
