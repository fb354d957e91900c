"""Model ``freshness.build_after`` rules (spec/sao.md §6 V1–V9, V17, V18)."""

from __future__ import annotations

import os
from collections.abc import Iterator

from freshlens.index import Setting, is_dynamic, plain
from freshlens.model import Dynamic, Finding, Loc, Related, Severity
from freshlens.project.yamlpos import YMap, YScalar
from freshlens.rules.base import Ctx, did_you_mean, finding, where
from freshlens.rules.v2_resolve import BOTH, SLA_KEYS, V2, engine_of

PERIODS = ("minute", "hour", "day")
BUILD_AFTER_KEYS = {"count", "period", "updates_on"}


def _jinja_in_sql_string(s: Setting, node: YScalar) -> bool:
    return s.layer == "sql" and isinstance(node.value, str) and ("{{" in node.value or "{%" in node.value)


def check_model_freshness(s: Setting, engine: str = BOTH) -> Iterator[Finding]:
    """V1–V6 on one written ``freshness`` value (any level).

    ``engine`` (``v2_freshness.engine_of``) decides what FL106 says about the keys dbt v2 reads as a
    model SLA and dbt Core 1.x drops (spec dbt-v2-freshness.md C2): nothing on a dbt v2 project.
    """
    v = s.value
    if s.is_null or is_dynamic(v):
        return
    if not isinstance(v, YMap):
        yield finding(
            "FL111",
            "`freshness` must be a mapping with `build_after: {count, period}`, or null. dbt Core drops any "
            "other value silently.",
            s.value_loc,
        )
        return
    for p in v.items:
        k = str(p.key.value)
        if k == "build_after":
            continue
        if k in SLA_KEYS:
            if engine == V2:
                continue  # a model SLA key (spec dbt-v2-freshness.md G1): the FL3xx rules check it
            why = (
                f"dbt Core 1.x drops `{k}` silently: under a model's `freshness` it reads only `build_after`."
            )
            if engine == BOTH:
                why += (
                    f" dbt v2 reads `{k}` as part of the model's freshness SLA (checked by `dbt freshness`). "
                    "Set `require-dbt-version` in dbt_project.yml to say which engine runs this project."
                )
        elif k == "updates_on":
            why = (
                "`updates_on` belongs under `build_after`; here dbt drops it (and `updates_on` stays `any`)."
            )
        else:
            why = f"`{k}` is not a model freshness key; dbt ignores it.{did_you_mean(k, ['build_after'])}"
        yield finding("FL106", why, Loc(s.path, p.key.span))
    bp = v.pair("build_after")
    if bp is None:
        return
    ba = bp.value
    if isinstance(ba, YScalar) and ba.value is None:
        yield finding(
            "FL107",
            '`build_after: null` makes dbt Core fail to parse (Field "build_after" … has invalid value None). '
            "Remove `freshness` or set `freshness: null` instead.",
            Loc(s.path, ba.span),
        )
        return
    if is_dynamic(ba):
        return
    if not isinstance(ba, YMap):
        yield finding(
            "FL111", "`build_after` must be a mapping: `{count: 4, period: hour}`.", Loc(s.path, ba.span)
        )
        return
    for p in ba.items:
        k = str(p.key.value)
        if k not in BUILD_AFTER_KEYS:
            yield finding(
                "FL106",
                f"`{k}` is not a build_after key; dbt drops it silently.{did_you_mean(k, BUILD_AFTER_KEYS)}",
                Loc(s.path, p.key.span),
            )
    count, period, upd = ba.get("count"), ba.get("period"), ba.get("updates_on")
    c_set = count is not None and not (isinstance(count, YScalar) and count.value is None)
    p_set = period is not None and not (isinstance(period, YScalar) and period.value is None)
    if c_set != p_set and not is_dynamic(count) and not is_dynamic(period):
        missing, given = ("period", "count") if c_set else ("count", "period")
        example = "{count: 4, period: hour}"
        yield finding(
            "FL101",
            f"`build_after` has a `{given}` but no `{missing}`: dbt rejects this (`freshness.build_after` must "
            f"have a value for `{missing}` if a `{given}` is provided). Set both, e.g. {example}, or neither. "
            "A more specific level replaces the whole freshness, so values are not inherited.",
            Loc(s.path, bp.key.span),
            data=(("fix", f"add_{missing}"), ("value", ",".join(str(x) for x in ba.span))),
        )
    if isinstance(count, YScalar) and count.value is not None:
        yield from _check_count(s, count)
    if isinstance(period, YScalar) and period.value is not None:
        if _jinja_in_sql_string(s, period):
            yield finding(
                "FL102",
                "Jinja inside a string in config() is not rendered; write the period itself.",
                Loc(s.path, period.span),
            )
        elif not is_dynamic(period) and period.value not in PERIODS:
            yield finding(
                "FL102",
                f"period `{period.value}` is not valid: use one of minute, hour, day (lower-case, singular)."
                f"{_period_hint(period.value)}",
                Loc(s.path, period.span),
            )
    elif period is not None and not isinstance(period, YScalar):
        yield finding("FL102", "period must be one of minute, hour, day.", Loc(s.path, period.span))
    if upd is not None:
        uv = plain(upd)
        if isinstance(uv, Dynamic) or (isinstance(upd, YScalar) and _jinja_in_sql_string(s, upd)):
            yield finding(
                "FL103", "`updates_on` does not accept Jinja; write `any` or `all`.", Loc(s.path, upd.span)
            )
        elif uv is not None and uv not in ("any", "all"):
            yield finding(
                "FL103",
                f"updates_on `{uv}` is not valid: use `any` (the default) or `all` (lower-case).",
                Loc(s.path, upd.span),
            )


def _period_hint(v: object) -> str:
    if not isinstance(v, str):
        return ""
    low = v.lower().rstrip("s")
    if low in PERIODS:
        return f" Write `{low}`."
    if low == "week":
        return " For a week write `count: 7, period: day`."
    if low == "second":
        return " Seconds are not supported for build_after; use minute."
    return ""


def _check_count(s: Setting, count: YScalar) -> Iterator[Finding]:
    v = count.value
    loc = Loc(s.path, count.span)
    if _jinja_in_sql_string(s, count):
        yield finding(
            "FL104",
            "Jinja inside a string in config() is not rendered, so dbt rejects it; write the expression "
            "without quotes, e.g. count=var('n').",
            loc,
        )
        return
    if is_dynamic(count):
        return
    if isinstance(v, bool):
        yield finding(
            "FL104", f"count must be an integer; dbt reads `{v}` as {int(v)}. Write the number.", loc
        )
    elif isinstance(v, float):
        yield finding(
            "FL104", f"count must be an integer; dbt truncates {v} to {int(v)}. Write a whole number.", loc
        )
    elif isinstance(v, str):
        hint = f" Write {v.strip()} without quotes." if v.strip().lstrip("-").isdigit() else ""
        yield finding("FL104", f"count must be an integer, not the string {v!r}.{hint}", loc)
    elif isinstance(v, int) and v < 0:
        yield finding(
            "FL105",
            f"count is negative ({v}); dbt accepts it but the docs require a positive "
            "integer. Use 0 for 'no time gate'.",
            loc,
        )


def project_tree_keys(ctx: Ctx) -> Iterator[Finding]:
    """V7 (FL108): a dict-valued config without ``+`` in dbt_project.yml is read as a folder."""
    pkg = ctx.index.root
    pf = pkg.project
    if pf.root is None:
        return
    roots = {
        "models": pf.model_paths,
        "sources": pf.model_paths,
        "seeds": pf.seed_paths,
        "snapshots": pf.snapshot_paths,
        "data_tests": pf.test_paths,
        "tests": pf.test_paths,
    }
    base = os.path.dirname(pf.path)

    def real_folder(resource: str, segs: tuple[str, ...]) -> bool:
        # segs[0] is the project (or package) name; only the root project's folders are on disk here
        if len(segs) < 2 or segs[0] != pf.name:
            return False
        return any(os.path.isdir(os.path.join(base, r, *segs[1:])) for r in roots[resource])

    for resource in ("models", "seeds", "snapshots", "sources", "data_tests", "tests"):
        tree = pf.tree(resource)
        if tree is None:
            continue
        stack: list[tuple[YMap, tuple[str, ...]]] = [(tree, ())]
        while stack:
            m, segs = stack.pop()
            for p in m.items:
                k = str(p.key.value)
                if (
                    k in ("freshness", "state")
                    and isinstance(p.value, YMap)
                    and not real_folder(resource, (*segs, k))
                ):
                    code = "FL108" if k == "freshness" else "FL202"
                    yield finding(
                        code,
                        f"`{k}:` without `+` is read by dbt as a sub-folder named {k}, so this config applies "
                        f"to nothing (dbt warns about unused configuration paths). Write `+{k}:`.",
                        Loc(pf.path, p.key.span),
                        data=(("fix", "add_plus"),),
                    )
                    continue
                if (
                    k in ("loaded_at_field", "loaded_at_query", "+loaded_at_field", "+loaded_at_query")
                    and resource == "sources"
                ):
                    yield finding(
                        "FL006",
                        f"`{k}` in dbt_project.yml is ignored by dbt Core for sources (the properties file "
                        "value, even an empty one, always wins). Set it on the source or table in YAML.",
                        Loc(pf.path, p.key.span),
                    )
                    continue
                if isinstance(p.value, YMap) and not k.startswith("+"):
                    stack.append((p.value, (*segs, k)))


def freshness_values(ctx: Ctx) -> Iterator[Finding]:
    """V1–V6 on every place a model freshness is written, once each."""
    engine = engine_of(ctx)
    for site in ctx.sites():
        s = site.setting
        if s.key != "freshness" or site.resource != "models" or site.where == "properties-top":
            continue
        yield from check_model_freshness(s, engine)


def misplaced_freshness(ctx: Ctx) -> Iterator[Finding]:
    """V8 (FL109) top-level ``freshness`` on a model; FL006 freshness where dbt never reads it."""
    for site in ctx.sites():
        s = site.setting
        if s.key != "freshness":
            continue
        if site.resource == "models" and site.where == "properties-top":
            yield finding(
                "FL109",
                "a top-level `freshness:` on a model is ignored since dbt 1.10 (config.freshness stays null). "
                "Move it under `config:`.",
                s.loc,
                data=(("fix", "move_into_config"),),
            )
        elif (
            site.resource in ("seeds", "snapshots", "data_tests", "analyses")
            and site.where != "properties-top"
        ):
            kind = site.resource.rstrip("s").replace("_", " ")
            yield finding(
                "FL006",
                f"`freshness` on a {kind} is stored but never used: build_after applies to models only "
                "(and warn_after/error_after to sources). Remove it or move it to the models that read this.",
                s.loc,
            )


def null_under_inherited(ctx: Ctx) -> Iterator[Finding]:
    """V9 (FL110): model-level ``freshness: null`` does not clear an inherited ``+freshness`` (P4)."""
    seen: set[tuple[str, int, int]] = set()
    for node in ctx.index.models():
        if node.package != ctx.index.name:
            continue
        eff = node.eff("freshness")
        project = [s for s in node.settings.get("freshness", []) if s.layer == "dbt_project.yml"]
        if not project or eff.setting is None or eff.setting.layer != "dbt_project.yml":
            continue
        for s in eff.ignored:
            if not s.is_null:
                continue
            key = (s.path, s.key_node.span.line, s.key_node.span.col)
            if key in seen:
                continue
            seen.add(key)
            yield finding(
                "FL110",
                f"`freshness: null` here does not opt {node.display} out: dbt Core keeps the value inherited "
                f"from {where(eff.setting)} (null only clears at a folder level in dbt_project.yml). To "
                "turn the time gate off, set `freshness: {build_after: {count: 0, period: minute}}`.",
                s.value_loc,
                [Related(eff.setting.loc, "the inherited freshness that stays in force")],
                data=(("fix", "explicit_zero"),),
            )


def python_models(ctx: Ctx) -> Iterator[Finding]:
    """V17 (FL128): freshness on a Python model has no effect."""
    for node in ctx.index.models():
        if node.language != "python" or node.package != ctx.index.name:
            continue
        for s in node.settings.get("freshness", []):
            if s.layer in ("sql", "properties") and not s.is_null:
                yield finding(
                    "FL128",
                    "state-aware orchestration does not support Python models: they are always built, so this "
                    "freshness has no effect.",
                    s.loc,
                )


def updates_on_all(ctx: Ctx) -> Iterator[Finding]:
    """V18 (FL129): ``updates_on: all`` with one parent, or with a parent that rarely changes."""
    idx = ctx.index
    for node in idx.models():
        if node.package != idx.name:
            continue
        eff = node.eff("freshness")
        v = eff.value
        if not isinstance(v, dict) or eff.setting is None:
            continue
        ba = v.get("build_after")
        if not isinstance(ba, dict) or ba.get("updates_on") != "all":
            continue
        s = eff.setting
        if s.layer == "dbt_project.yml":
            continue  # reported at the model level only, where it is actionable
        loc = s.loc
        if isinstance(s.value, YMap):
            b = s.value.get("build_after")
            up = b.pair("updates_on") if isinstance(b, YMap) else None
            if up is not None:
                loc = Loc(s.path, up.value.span)
        if len(node.parents) <= 1:
            yield finding(
                "FL129",
                f"{node.display} has {len(node.parents)} direct parent(s): `updates_on: all` "
                "behaves exactly like `any` here.",
                loc,
                severity=Severity.HINT,
            )
        else:
            seeds = [p for p in node.parents if p.startswith("seed.")]
            if seeds:
                yield finding(
                    "FL129",
                    f"with `updates_on: all`, {node.display} builds only when every parent has new data; its "
                    f"parent {seeds[0].split('.')[-1]} is a seed that rarely changes, so in practice it rebuilds "
                    "only on code changes.",
                    loc,
                    severity=Severity.HINT,
                )
