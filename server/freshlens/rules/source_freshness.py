"""Source freshness and ``loaded_at_*`` rules (spec/sao.md §6 V10–V16, S1–S6)."""

from __future__ import annotations

from collections.abc import Iterator

from freshlens.index import SourceTable, is_dynamic, plain
from freshlens.model import Finding, Loc, Related
from freshlens.project.yamlpos import YMap, YPair, YScalar
from freshlens.rules.base import Ctx, did_you_mean, finding

METADATA_ADAPTERS = {"snowflake", "redshift", "bigquery", "databricks"}
FRESHNESS_KEYS = {"warn_after", "error_after", "filter"}
PERIODS = ("minute", "hour", "day")


def _freshness_pairs(entry: YMap) -> list[YPair]:
    out = []
    p = entry.pair("freshness")
    if p is not None:
        out.append(p)
    cfg = entry.get("config")
    if isinstance(cfg, YMap):
        q = cfg.pair("freshness")
        if q is not None:
            out.append(q)
    return out


def _check_freshness_value(path: str, pair: YPair) -> Iterator[Finding]:
    v = pair.value
    if (isinstance(v, YScalar) and v.value is None) or is_dynamic(v) or not isinstance(v, YMap):
        return
    for p in v.items:
        k = str(p.key.value)
        if k in FRESHNESS_KEYS:
            continue
        if k == "build_after":
            msg = (
                "`build_after` is a model key: under a source's freshness dbt ignores it, the thresholds stay "
                "null and `dbt source freshness` skips this source. Use warn_after/error_after here."
            )
        elif k in ("loaded_at_field", "loaded_at_query"):
            # a known key (dbt v2 reads it here), but placed where dbt Core ignores it
            yield finding(
                "FL006",
                f"`{k}` nested under `freshness:` is ignored by dbt Core (only dbt v2 reads it there). "
                "Move it next to `freshness:`.",
                Loc(path, p.key.span),
            )
            continue
        else:
            msg = f"`{k}` is not a source freshness key; dbt ignores it.{did_you_mean(k, FRESHNESS_KEYS)}"
        yield finding("FL130", msg, Loc(path, p.key.span))
    for key in ("warn_after", "error_after"):
        tp = v.pair(key)
        if tp is None or not isinstance(tp.value, YMap):
            continue
        t = tp.value
        c, per = t.get("count"), t.get("period")
        c_set = c is not None and plain(c) is not None
        p_set = per is not None and plain(per) is not None
        if c_set != p_set and not is_dynamic(c) and not is_dynamic(per):
            missing = "period" if c_set else "count"
            yield finding(
                "FL123",
                f"`{key}` has no `{missing}`: dbt ignores an incomplete rule silently (the inherited rule, if "
                f"any, stays in force; otherwise this source is not checked). Set both count and period.",
                Loc(path, tp.key.span),
            )
        if (
            isinstance(per, YScalar)
            and per.value is not None
            and not is_dynamic(per)
            and per.value not in PERIODS
        ):
            yield finding(
                "FL124",
                f"period `{per.value}` is not valid for `{key}`: dbt fails to parse. Use minute, hour or day.",
                Loc(path, per.span),
            )
        if isinstance(c, YScalar) and c.value is not None and not is_dynamic(c):
            cv = c.value
            if isinstance(cv, (bool, float, str)):
                yield finding("FL131", f"count must be an integer, not {cv!r}.", Loc(path, c.span))


def _level_loaded(entry: YMap) -> list[YPair]:
    out: list[YPair] = []
    for holder in (entry, entry.get("config")):
        if isinstance(holder, YMap):
            for key in ("loaded_at_field", "loaded_at_query"):
                p = holder.pair(key)
                if p is not None and plain(p.value) is not None:
                    out.append(p)
    return out


def source_rules(ctx: Ctx) -> Iterator[Finding]:
    idx = ctx.index
    for site in ctx.sites():
        if site.resource == "sources" and site.where == "project" and site.setting.key == "freshness":
            yield from _check_freshness_value(
                site.setting.path, YPair(site.setting.key_node, site.setting.value)
            )
    seen_src: set[tuple[str, str]] = set()
    for st in idx.sources.values():
        if st.package != idx.name:
            continue
        path = st.path
        skey = (path, st.source_name)
        levels = [(st.table.node, "table")]
        if skey not in seen_src:
            seen_src.add(skey)
            levels.insert(0, (st.source.node, "source"))
        for entry, level in levels:
            for pair in _freshness_pairs(entry):
                yield from _check_freshness_value(path, pair)
            pairs = _level_loaded(entry)
            kinds = {str(p.key.value) for p in pairs}
            if {"loaded_at_field", "loaded_at_query"} <= kinds:
                second = sorted(pairs, key=lambda p: (p.key.span.line, p.key.span.col))[-1]
                first = sorted(pairs, key=lambda p: (p.key.span.line, p.key.span.col))[0]
                yield finding(
                    "FL120",
                    f"`loaded_at_field` and `loaded_at_query` are both set at {level} level: dbt fails to parse "
                    f"(Cannot specify both loaded_at_field and loaded_at_query at {level} level.). Keep one.",
                    Loc(path, second.key.span),
                    [Related(Loc(path, first.key.span), "the other one")],
                    data=(("fix", "drop_loaded_at"),),
                )
            for p in pairs:
                if (
                    str(p.key.value) == "loaded_at_field"
                    and isinstance(p.value, YScalar)
                    and isinstance(p.value.value, str)
                    and p.value.value.strip() == ""
                ):
                    yield finding(
                        "FL122",
                        "loaded_at_field cannot be an empty string (dbt fails to parse). "
                        "Name the timestamp column, or remove the key.",
                        Loc(path, p.value.span),
                    )
            # empty strings written as ''/"" are not "set" above; catch them too
            for holder in (entry, entry.get("config")):
                if isinstance(holder, YMap):
                    lp = holder.pair("loaded_at_field")
                    if lp is not None and isinstance(lp.value, YScalar) and lp.value.value == "":
                        yield finding(
                            "FL122",
                            "loaded_at_field cannot be an empty string (dbt fails to parse). "
                            "Name the timestamp column, or remove the key.",
                            Loc(path, lp.value.span),
                        )
        yield from _table_level_rules(ctx, st)


def _table_level_rules(ctx: Ctx, st: SourceTable) -> Iterator[Finding]:
    idx = ctx.index
    path = st.path
    t_l = {str(p.key.value): p for p in _level_loaded(st.table.node)}
    s_l = {str(p.key.value): p for p in _level_loaded(st.source.node)}
    if len(t_l) == 1 and s_l and set(t_l) != set(s_l) and len(s_l) == 1:
        tk = next(iter(t_l))
        sk = next(iter(s_l))
        effect = (
            "the table's query wins at run time"
            if tk == "loaded_at_query"
            else "the source's loaded_at_query is dropped for this table"
        )
        yield finding(
            "FL121",
            f"this table sets `{tk}` while its source sets `{sk}`: legal, and {effect} (closest to the table "
            "wins). Set only one of them to make the intent clear.",
            Loc(path, t_l[tk].key.span),
            [Related(Loc(path, s_l[sk].key.span), f"the source-level {sk}")],
        )
    method = st.loaded_at_method
    fr = st.freshness
    if fr.filter_setting is not None and method != "loaded_at_field":
        why = (
            'a filter does not apply to loaded_at_query (dbt: "won\'t work")'
            if method == "loaded_at_query"
            else "with no loaded_at_field, freshness comes from warehouse metadata and dbt cannot apply a filter"
        )
        yield finding("FL126", f"`filter` has no effect here: {why}.", fr.filter_setting.loc)
    if method == "metadata" and fr.active and idx.adapter_type and idx.adapter_type not in METADATA_ADAPTERS:
        s = fr.warn_after.setting if fr.warn_after else (fr.error_after.setting if fr.error_after else None)
        rel = [Related(s.loc, "the freshness rule that makes dbt check this table")] if s else []
        yield finding(
            "FL125",
            f"the {idx.adapter_type} adapter has no metadata-based freshness: without loaded_at_field or "
            f"loaded_at_query dbt cannot compute freshness for {st.display} (Could not compute freshness for "
            "source …). Add a loaded_at_field.",
            Loc(path, st.table.name_span),
            rel,
        )
    if method == "metadata" and (st.relation_type or "").upper() == "VIEW":
        yield finding(
            "FL127",
            f"{st.display} is a view and has no loaded_at_field/loaded_at_query: it counts as fresh on every "
            "state-aware run, so its dependents rebuild every time. Add a loaded_at_field.",
            Loc(path, st.table.name_span),
        )
