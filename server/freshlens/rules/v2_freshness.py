"""dbt v2 model freshness SLA rules (spec/dbt-v2-freshness.md §3 MV1–MV14).

dbt v2 reads ``warn_after``/``error_after`` (+ ``filter``, ``loaded_at_*``) under a model's
``freshness`` and checks them with ``dbt freshness``; dbt Core 1.x drops them silently (§6). The
rules judge for the engine ``v2_resolve.engine_of`` names and say what each engine does; on a dbt
Core project the v2-only errors are information: they become parse errors on the upgrade (MV14).
Effective values come from ``v2_resolve.model_sla`` (v2's merge, P2–P5).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from freshlens.index import Node, Setting, call_settings, is_dynamic, plain, resolve_whole
from freshlens.model import Finding, Loc, Related, Severity, Span
from freshlens.project.yamlpos import YMap, YScalar
from freshlens.rules.base import Ctx, finding, where
from freshlens.rules.v2_resolve import (
    CORE,
    LOADED_AT,
    SLA_RULE_KEYS,
    ModelSla,
    engine_of,
    model_sla,
    rule_set,
    say,
    text_set,
    v2_only,
)

SLA_PERIODS = ("second", "minute", "hour", "day")
# Adapters with metadata freshness in dbt v2 (spec MV7: Snowflake, BigQuery, Databricks/Spark, Redshift).
V2_METADATA_ADAPTERS = frozenset({"snowflake", "bigquery", "databricks", "spark", "redshift"})
_LAYER_RANK = {"dbt_project.yml": 0, "properties": 1, "sql": 2}


def _slas(ctx: Ctx) -> list[ModelSla]:
    """Each model's v2 SLA, computed once per rules run (model_rules and replace_rules both need it)."""
    got: list[ModelSla] | None = ctx.memo.get("v2_slas")
    if got is None:
        got = []
        for node in ctx.index.models():
            if node.package != ctx.index.name:
                continue
            m = model_sla(node)
            if m is not None:
                got.append(m)
        ctx.memo["v2_slas"] = got
    return got


class _Grouped:
    """Findings for settings several models share (a properties entry's versions): one per place, naming them."""

    def __init__(self) -> None:
        self._at: dict[tuple[str, str, Span], tuple[Loc, list[str], Any]] = {}

    def add(self, code: str, loc: Loc, model: str, extra: Any = None) -> None:
        got = self._at.setdefault((code, loc.path, loc.span), (loc, [], extra))
        if model not in got[1]:
            got[1].append(model)

    def emit(self, make: Callable[[str, Loc, str, Any], Finding]) -> Iterator[Finding]:
        for (code, _p, _s), (loc, models, extra) in self._at.items():
            names = ", ".join(models[:3]) + (f" and {len(models) - 3} more" if len(models) > 3 else "")
            yield make(code, loc, names, extra)


def _in_project(s: Setting) -> bool:
    return s.layer == "dbt_project.yml"


def _model_loc(node: Node) -> Loc:
    """The model itself: its properties entry's name, else the start of its file (where lenses sit)."""
    if node.props is not None and node.props_path is not None:
        return Loc(node.props_path, node.props.name_span)
    return Loc(node.path or "", Span(0, 0, 0, 0))


def _own(s: Setting, node: Node) -> Loc:
    """Where a finding about one model goes: the setting when it is in the model's own files, the model
    when it is in dbt_project.yml. A folder setting's findings depend on each model's own files, and
    an edit re-checks only those files (docs/internals.md, incremental re-checking)."""
    return _model_loc(node) if _in_project(s) else s.loc


def _anchor(fresh: Setting, node: Node) -> tuple[Setting, bool]:
    """Where a freshness/materialization clash is reported: the more specific of the two settings.

    Returns the setting and whether it is the freshness setting (then a fix can insert beside it).
    """
    mat = node.eff("materialized").setting
    if mat is not None and _LAYER_RANK.get(mat.layer, 0) > _LAYER_RANK.get(fresh.layer, 0):
        return mat, False
    return fresh, True


# ------------------------------------------------------------------------------- per written value


def _set(n: Any) -> bool:
    return n is not None and not (isinstance(n, YScalar) and n.value is None)


def check_sla_value(s: Setting, engine: str) -> Iterator[Finding]:
    """MV1, MV2 (nested), MV11, MV12 on one written model ``freshness`` value."""
    v = s.value
    if s.is_null or is_dynamic(v) or not isinstance(v, YMap):
        return
    sev = v2_only(engine)
    for key in SLA_RULE_KEYS:
        tp = v.pair(key)
        if tp is None or not isinstance(tp.value, YMap):
            continue
        t = tp.value
        count, period = t.get("count"), t.get("period")
        c_set, p_set = _set(count), _set(period)
        if c_set != p_set and not is_dynamic(count) and not is_dynamic(period):
            missing, given = ("period", "count") if c_set else ("count", "period")
            yield finding(
                "FL301",
                say(
                    engine,
                    f"`{key}` has a `{given}` but no `{missing}`: a parse warning, and `dbt freshness` stops with "
                    "`count and period are required when freshness is provided` before checking anything. "
                    f"Set both, e.g. {{count: 24, period: hour}}, or neither.",
                    f"the model's `{key}` is dropped silently (only build_after is kept).",
                ),
                Loc(s.path, tp.key.span),
                severity=sev,
                data=(("fix", f"add_{missing}"), ("value", ",".join(str(x) for x in t.span))),
            )
        if isinstance(period, YScalar) and period.value is not None and not is_dynamic(period):
            yield from _check_period(s, key, period, engine, sev)
        if isinstance(count, YScalar) and count.value is not None and not is_dynamic(count):
            yield from _check_count(s, key, count, sev)
    pairs = [p for p in (v.pair(k) for k in LOADED_AT) if p is not None and text_set(plain(p.value))]
    if len(pairs) == 2:
        first, second = sorted(pairs, key=lambda p: (p.key.span.line, p.key.span.col))
        yield finding(
            "FL302",
            say(
                engine,
                "`loaded_at_field` and `loaded_at_query` cannot be set at the same time on a model: the parse "
                "aborts. Keep one.",
                "both are ignored (a model's freshness keeps only build_after).",
            ),
            Loc(s.path, second.key.span),
            [Related(Loc(s.path, first.key.span), "the other one")],
            severity=sev,
            data=(("fix", "drop_loaded_at"),),
        )


def _check_period(
    s: Setting, key: str, period: YScalar, engine: str, sev: Severity | None
) -> Iterator[Finding]:
    pv = period.value
    loc = Loc(s.path, period.span)
    if pv == "second":
        yield finding(
            "FL308",
            say(
                engine,
                f"`period: second` in `{key}` is accepted but undocumented (the docs list minute, hour, day).",
                "`second` is rejected.",
            )
            + " Prefer minute.",
            loc,
            severity=sev or Severity.WARNING,
        )
    elif pv not in SLA_PERIODS:
        low = str(pv).lower().rstrip("s")
        hint = f" Write `{low}`." if low in SLA_PERIODS else " For a week write `count: 7, period: day`."
        yield finding(
            "FL308",
            f"period `{pv}` is not valid in `{key}`: dbt v2 fails to parse (unknown variant). Use minute, hour or "
            f"day.{hint if low in SLA_PERIODS or low == 'week' else ''}",
            loc,
            severity=sev,
        )


def _check_count(s: Setting, key: str, count: YScalar, sev: Severity | None) -> Iterator[Finding]:
    cv = count.value
    loc = Loc(s.path, count.span)
    n: int | None = None
    if isinstance(cv, int) and not isinstance(cv, bool):
        n = cv
    elif isinstance(cv, str) and cv.strip().lstrip("-").isdigit():
        n = int(cv)  # v2 reads a numeric string as a number (G6)
    if n is None:
        yield finding(
            "FL309",
            f"count in `{key}` must be a whole number, not {cv!r}: dbt v2 fails to parse it.",
            loc,
            severity=sev or Severity.ERROR,
        )
    elif n <= 0:
        what = (
            "0 means any age over zero seconds breaches it"
            if n == 0
            else "a negative count is always breached"
        )
        yield finding(
            "FL309",
            f"count {n} in `{key}`: {what}, so every check reports it. Use a positive count.",
            loc,
            severity=sev,
        )


def sla_values(ctx: Ctx) -> Iterator[Finding]:
    """MV1, MV2, MV11, MV12 wherever a model freshness is written, once each."""
    engine = engine_of(ctx)
    for site in ctx.sites():
        s = site.setting
        if s.key == "freshness" and site.resource == "models" and site.where != "properties-top":
            yield from check_sla_value(s, engine)


def _model_config_blocks(ctx: Ctx, scoped: bool = True) -> Iterator[tuple[str, list[Setting]]]:
    """The model config levels, each with its settings: a dbt_project.yml folder, a properties
    ``config:`` (or a version's), one SQL/Python file's ``config()`` calls."""

    def in_scope(path: str) -> bool:
        return not scoped or ctx.in_scope(path)

    pkg = ctx.index.root
    pf = pkg.project
    tree = pf.tree("models")
    if tree is not None and in_scope(pf.path):
        stack = [tree]
        while stack:
            m = stack.pop()
            out = []
            for p in m.items:
                k = str(p.key.value)
                if k.startswith("+"):
                    out.append(Setting(k[1:], p.key, p.value, pf.path, "dbt_project.yml"))
                elif isinstance(p.value, YMap):
                    stack.append(p.value)
            yield pf.path, out
    # re-checking an edit: walk only the files in scope (a pass over every file costs ms per edit)
    narrow = scoped and ctx.scope is not None
    props_items = (
        [(p, pkg.props[p]) for p in sorted(ctx.scope or ()) if p in pkg.props]
        if narrow
        else pkg.props.items()
    )
    for path, props in props_items:
        if not in_scope(path):
            continue
        for entry in props.entries:
            if entry.kind != "models":
                continue
            for cfg in [entry.config] + [v.get("config") for _v, _s, v in entry.versions]:
                if isinstance(cfg, YMap):
                    yield (
                        path,
                        [Setting(str(p.key.value), p.key, p.value, path, "properties") for p in cfg.items],
                    )
    for files in (pkg.sql, pkg.py):
        items = [(p, files[p]) for p in sorted(ctx.scope or ()) if p in files] if narrow else files.items()
        for path, f in items:
            if in_scope(path):
                yield path, call_settings(f.configs, path)


def sibling_pairs(ctx: Ctx) -> Iterator[Finding]:
    """MV3 at one level (FL302): sibling ``loaded_at_field`` and ``loaded_at_query`` in one config block."""
    engine = engine_of(ctx)
    for _path, settings in _model_config_blocks(ctx):
        got = {s.key: s for s in settings if s.key in LOADED_AT and text_set(plain(s.value))}
        if len(got) < 2:
            continue
        first, second = sorted(got.values(), key=lambda s: (s.key_node.span.line, s.key_node.span.col))
        yield finding(
            "FL302",
            say(
                engine,
                "`loaded_at_field` and `loaded_at_query` are both set here: the docs call this a parse error and "
                "the engine silently uses `loaded_at_query`. Keep one.",
                "model `loaded_at_*` are inert extra config keys.",
            ),
            second.loc,
            [Related(first.loc, "the other one")],
            severity=v2_only(engine),
            data=(("fix", "drop_loaded_at"),),
        )


def top_level_loaded_at(ctx: Ctx) -> Iterator[Finding]:
    """MV13 (FL307): ``loaded_at_*`` as a top-level model property, where no engine reads it (G2)."""
    pkg = ctx.index.root
    for path, props in pkg.props.items():
        if not ctx.in_scope(path):
            continue
        for entry in props.entries:
            if entry.kind != "models":
                continue
            for key in LOADED_AT:
                p = entry.node.pair(key)
                if p is not None:
                    yield finding(
                        "FL307",
                        f"`{key}` as a top-level property of model {entry.name} is not read by dbt v2 (models have "
                        "no such property) nor dbt Core. Move it under `config:`, beside `freshness`.",
                        Loc(path, p.key.span),
                        data=(("fix", "move_into_config"),),
                    )


# ------------------------------------------------------------------------------ per model (merged)


def model_rules(ctx: Ctx) -> Iterator[Finding]:
    """MV3 across levels, MV4, MV5, MV8, MV13 on each model's v2-effective freshness."""
    engine = engine_of(ctx)
    slas = _slas(ctx)
    # sibling loaded_at_* places that some model with an SLA reads: never reported as inert (MV13)
    used = {id(s.key_node) for m in slas if m.sla for s in m.siblings.values()}
    blocks: dict[int, int] | None = None  # config level of each key, built only when a model needs it

    def block_of(key: Any) -> int | None:
        nonlocal blocks
        if blocks is None:  # the whole project's levels: too costly for every edit, rarely needed
            blocks = {
                id(s.key_node): i for i, (_p, ss) in enumerate(_model_config_blocks(ctx, False)) for s in ss
            }
        return blocks.get(id(key))

    adapter = ctx.index.adapter_type
    grouped = _Grouped()
    for m in slas:
        node = m.node
        fresh = m.setting
        if m.sla and fresh is not None:
            mat = "table" if node.language == "python" else node.materialized
            if mat == "ephemeral":
                at, _is_fresh = _anchor(fresh, node)
                grouped.add("FL304", _own(at, node), node.display, fresh)
            elif mat in ("view", "external") and not (m.loaded_field or m.loaded_query):
                at, is_fresh = _anchor(fresh, node)
                fixable = is_fresh and not _in_project(at)
                grouped.add("FL305", _own(at, node), node.display, (mat, fresh, fixable))
            elif m.method == "metadata" and adapter and adapter not in V2_METADATA_ADAPTERS:
                grouped.add("FL312", _own(fresh, node), node.display, (adapter, fresh))
            fp = fresh.value.pair("filter") if isinstance(fresh.value, YMap) else None
            if fp is not None and text_set(plain(fp.value)) and m.method != "loaded_at_field":
                loc = _model_loc(node) if _in_project(fresh) else Loc(fresh.path, fp.key.span)
                grouped.add("FL306", loc, node.display, m.method)
        if m.nested and m.siblings:
            for key, sib in m.siblings.items():
                grouped.add("FL303", _own(sib, node), node.display, ("nested", key, m.nested))
        elif len(m.siblings) == 2:
            f, q = m.siblings["loaded_at_field"], m.siblings["loaded_at_query"]
            bf, bq = block_of(f.key_node), block_of(q.key_node)
            if bf is None or bq is None or bf != bq:  # same block: FL302
                at = q if _in_project(f) and not _in_project(q) else f
                grouped.add("FL303", _own(at, node), node.display, ("levels", at.key, q if at is f else f))
        if not m.sla:
            for sib in m.siblings.values():
                # a folder's loaded_at_* may serve other models: reported only where one model sets it
                if id(sib.key_node) not in used and not _in_project(sib):
                    grouped.add("FL307", sib.loc, node.display, fresh)
    yield from grouped.emit(lambda code, loc, names, extra: _make(code, loc, names, extra, engine))


def replace_rules(ctx: Ctx) -> Iterator[Finding]:
    """MV9 (FL310) a null that does not opt out, MV10 (FL311) keys lost to a whole-block replace (P2, P4)."""
    engine = engine_of(ctx)
    if engine == CORE:
        return  # dbt Core drops the SLA keys before any merge: nothing here changes what it runs
    grouped = _Grouped()
    for m in _slas(ctx):
        fresh = m.setting
        if fresh is None:
            continue
        written = m.node.settings.get("freshness", [])
        later = written[written.index(fresh) + 1 :] if fresh in written else []
        if m.sla:
            for s in later:
                if s.is_null and not _in_project(s):  # a folder's null: spec P4 is inferred there
                    grouped.add("FL310", s.value_loc, m.node.display, fresh)
        eff = resolve_whole(m.node, "freshness")
        if not eff.replaced or not m.value or _in_project(fresh):
            continue  # nothing inherited, or `{}`: a deliberate opt-out
        before = eff.replaced[-1]
        old = plain(before.value)
        if not isinstance(old, dict):
            continue
        lost = tuple(
            k
            for k in ("build_after", *SLA_RULE_KEYS, "filter", *LOADED_AT)
            if k not in m.value and (rule_set(old.get(k)) or text_set(old.get(k)))
        )
        if lost:
            grouped.add("FL311", fresh.loc, m.node.display, (before, lost, "build_after" in m.value))
    yield from grouped.emit(lambda code, loc, names, extra: _make(code, loc, names, extra, engine))


def _make(code: str, loc: Loc, names: str, extra: Any, engine: str) -> Finding:
    sev = v2_only(engine)
    if code == "FL304":
        return finding(
            code,
            say(
                engine,
                f"ephemeral model(s) {names} get a freshness SLA (warn_after/error_after) here, and the parse "
                "aborts (dbt1078): nothing is materialized to measure. Change the materialization or remove the "
                "SLA (build_after alone is fine).",
                "the SLA keys are dropped silently.",
            ),
            loc,
            _related(extra, loc, "the freshness SLA in force"),
            severity=sev,
        )
    if code == "FL305":
        mat, fresh, is_fresh = extra
        return finding(
            code,
            say(
                engine,
                f"{mat} model(s) {names} have a freshness SLA but no `loaded_at_field`/`loaded_at_query`, and the "
                f"parse aborts (dbt1078): a {mat}'s metadata says when its definition changed, not how recent its "
                "data is. Set `loaded_at_field` (a timestamp column) or `loaded_at_query` beside `freshness`.",
                "the SLA keys are dropped silently.",
            ),
            loc,
            _related(fresh, loc, "the freshness SLA in force"),
            severity=sev,
            data=(("fix", "add_loaded_at_field"),) if is_fresh else (),
        )
    if code == "FL312":
        adapter, fresh = extra
        return finding(
            code,
            say(
                engine,
                f"{names} have a freshness SLA and no `loaded_at_field`/`loaded_at_query`, so `dbt freshness` "
                f"reads warehouse metadata, which dbt v2 does not implement for {adapter} (only Snowflake, BigQuery, "
                "Databricks/Spark, Redshift): expect `Could not find freshness information for model …` or a "
                "failure. Set `loaded_at_field` beside `freshness`.",
                "model SLAs are not checked at all.",
            ),
            loc,
            _related(fresh, loc, "the freshness SLA in force"),
            severity=v2_only(engine),
            data=(("fix", "add_loaded_at_field"),) if loc == fresh.loc else (),
        )
    if code == "FL306":
        why = (
            "`loaded_at_query` is used instead (it wins, F3)"
            if extra == "loaded_at_query"
            else "freshness comes from warehouse metadata (no `loaded_at_field`)"
        )
        return finding(
            code,
            f"`filter` only narrows the `max(loaded_at_field)` query; for {names} {why}, so dbt v2 ignores it "
            "without a warning. Set `loaded_at_field` or remove `filter`.",
            loc,
            severity=sev,
        )
    if code == "FL303":
        kind, key, other = extra
        if kind == "nested":
            nested = " and ".join(f"`{k}`" for k in other)
            wins = next(iter(other.values()))
            return finding(
                code,
                f"dbt v2 ignores this sibling `{key}` for {names}: the nested {nested} under `freshness:` wins. "
                "Keep one of the two places (the docs show the sibling form).",
                loc,
                [Related(wins.loc, "the nested value in force")],
            )
        peer = "loaded_at_query" if key == "loaded_at_field" else "loaded_at_field"
        return finding(
            code,
            f"{names} get `{key}` and `{peer}` from different levels: dbt v2 keeps both and uses "
            "`loaded_at_query` (on models a closer level does not clear the other, unlike sources). Keep one.",
            loc,
            [Related(other.loc, f"the {peer}")],
        )
    if code == "FL310":
        return finding(
            code,
            f"`freshness: null` does not opt {names} out of the SLA inherited from {where(extra)}: in dbt v2 null "
            "means unset, so the inherited block stays. To turn freshness off here, write `freshness: {}`.",
            loc,
            [Related(extra.loc, "the freshness that stays in force")],
            data=(("fix", "empty_freshness"),),
        )
    if code == "FL311":
        before, lost, has_build_after = extra
        keys = ", ".join(f"`{k}`" for k in lost)
        core = (
            "only build_after is read, and the SLA keys are dropped."
            if has_build_after
            else "a model freshness without build_after is dropped, so the inherited one stays in force."
        )
        return finding(
            code,
            say(
                engine,
                f"this `freshness` replaces the one from {where(before)} whole for {names}: {keys} set there "
                f"{'no longer applies' if len(lost) == 1 else 'no longer apply'} (blocks are never merged key by "
                "key). Repeat what you want to keep here.",
                core,
            ),
            loc,
            [Related(before.loc, "the replaced freshness")],
        )
    why = "no warn_after/error_after in their freshness" if extra is not None else "no freshness SLA"
    return finding(
        code,
        f"this `loaded_at_*` does nothing for {names} ({why}): dbt v2 reads a model's `loaded_at_*` only to check "
        "an SLA, it never decides build or reuse, and dbt Core 1.x never reads it. Add warn_after/error_after "
        "under `freshness` or remove it.",
        loc,
    )


def _related(s: Any, loc: Loc, what: str) -> list[Related]:
    if isinstance(s, Setting) and s.loc != loc:
        return [Related(s.loc, what)]
    return []
