"""General checks: syntax, references, duplicates (codes FL001–FL010)."""

from __future__ import annotations

from collections.abc import Iterator

from freshlens.model import Finding, Loc, Related, Span
from freshlens.rules.base import Ctx, did_you_mean, finding


def parse_problems(ctx: Ctx) -> Iterator[Finding]:
    """FL001, FL002, FL007, FL008, FL011: problems met while reading and parsing files."""
    for p in ctx.problems:
        yield finding(p.code, p.message, p.loc, p.related, severity=p.severity)


def references(ctx: Ctx) -> Iterator[Finding]:
    """FL003/FL004 unresolved ``ref``/``source``; FL009 computed ones (not guessed)."""
    idx = ctx.index
    # suggestions come from the whole project, also when re-checking one file; built only when something
    # is unresolved, so re-checking an edit costs no pass over the project
    whole = getattr(idx, "whole", idx)
    model_names = sorted({n.name for n in whole.nodes.values()}) if idx.unresolved else []
    source_names = (
        sorted({f"{s.source_name}.{s.name}" for s in whole.sources.values()}) if idx.unresolved else []
    )
    for u in idx.unresolved:
        if u.node.package != idx.name or u.node.eff("enabled").value is False:
            continue  # dbt neither links nor checks the refs of a disabled node
        args = [a for a in u.call.args if a is not None]
        cond = " (inside {% if %}: dbt fails when that branch runs)" if u.call.conditional else ""
        sev = None
        if u.call.kind == "ref":
            name = args[-1] if args else "?"
            ver = f" version {u.call.version}" if u.call.version else ""
            msg = (
                f"ref({u.call.text_args}) does not match any model, seed or snapshot{ver} in this project "
                f"or its packages{cond}.{did_you_mean(name, model_names)} Check the name or add the model."
            )
            yield finding("FL003", msg, Loc(u.path, u.call.span), severity=sev)
        else:
            full = ".".join(args)
            msg = (
                f"source({u.call.text_args}) is not defined in any sources: block{cond}."
                f"{did_you_mean(full, source_names)} Add the table under its source in a properties file."
            )
            yield finding("FL004", msg, Loc(u.path, u.call.span), severity=sev)
    for u in idx.dynamic_refs:
        if u.node.package != idx.name or u.node.eff("enabled").value is False:
            continue
        where = " inside a {% for %} loop" if u.call.in_loop else ""
        yield finding(
            "FL009",
            f"{u.call.kind}() with a computed argument{where}: freshlens could not render it (see FL012), "
            "so this dependency is not in its DAG and predictions for this model may miss it.",
            Loc(u.path, u.call.span),
        )


def refs_to_disabled(ctx: Ctx) -> Iterator[Finding]:
    """FL003: an enabled model refs a disabled one — dbt fails to parse ("depends on a node named …
    which is disabled"); for dbt the target does not exist."""
    from freshlens.index import ref_target

    idx = ctx.index
    if ctx.scope is None and not any(n.eff("enabled").value is False for n in idx.nodes.values()):
        return  # a whole-project run where nothing is disabled: no ref can point at a disabled model
    for node in idx.nodes.values():
        if node.package != idx.name or node.path is None or node.eff("enabled").value is False:
            continue
        for call in node.refs:
            if call.kind != "ref":
                continue
            target = ref_target(idx, node, call)
            parent = idx.nodes.get(target) if target is not None else None
            if parent is None or parent.eff("enabled").value is not False:
                continue
            setting = parent.eff("enabled").setting
            where = f" ({setting.describe()})" if setting is not None else ""
            yield finding(
                "FL003",
                f"ref({call.text_args}) points at {parent.display}, which is disabled{where}: dbt fails to "
                f"parse this project (a node depends on a node named '{parent.name}' which is disabled). "
                "Enable that model, or disable this one too.",
                Loc(node.path, call.span),
            )


def render_problems(ctx: Ctx) -> Iterator[Finding]:
    """FL012: a model whose Jinja freshlens could not render at parse time (the DAG may be incomplete)."""
    idx = ctx.index
    for node in idx.nodes.values():
        r = node.render
        if r is None or r.ok or node.path is None or node.package != idx.name:
            continue
        if not ctx.in_scope(node.path) or node.eff("enabled").value is False:
            continue
        yield finding(
            "FL012",
            f"freshlens could not render this model's Jinja as dbt parse would: {r.problem}. Its "
            "ref()/source() and config() calls come from a static read only, so the DAG may be incomplete "
            "here and predictions for this model are less certain.",
            Loc(node.path, r.problem_span or _file_start()),
        )


def _file_start() -> Span:
    """A problem of the whole file (a duplicate model): its start, where editors show it."""
    return Span(0, 0, 0, 0)


def duplicates(ctx: Ctx) -> Iterator[Finding]:
    """FL005: two models with the same name in one project (dbt refuses to parse).

    Reported on every file involved (a file-level problem: at the start of the file), each pointing
    at the other definition.
    """
    seen: set[str] = set()
    for first, other in ctx.index.duplicates:
        if other.path is None or other.package != ctx.index.name:
            continue
        pairs = [(other, first)]
        if first.path is not None and first.package == ctx.index.name:
            pairs.insert(0, (first, other))
        for here, there in pairs:
            if here.path is None or here.path in seen:
                continue
            seen.add(here.path)
            yield finding(
                "FL005",
                f"model `{here.name}` is defined twice: here and in {there.path}. dbt requires unique model "
                "names; rename one of the files (or use versions:).",
                Loc(here.path, _file_start()),
                [Related(Loc(there.path or "", Span(0, 0, 0, 0)), "the other definition")],
            )


def orphan_properties(ctx: Ctx) -> Iterator[Finding]:
    """FL010: a properties entry whose model/seed/snapshot has no file."""
    whole = getattr(ctx.index, "whole", ctx.index)
    names = sorted({n.name for n in whole.nodes.values()}) if ctx.index.orphan_props else []
    for entry, path in ctx.index.orphan_props:
        kind = entry.kind.rstrip("s")
        yield finding(
            "FL010",
            f"no {kind} file named `{entry.name}` was found, so dbt ignores this entry and its configs."
            f"{did_you_mean(entry.name, names)} Rename the entry or add the file.",
            Loc(path, entry.name_span),
        )
