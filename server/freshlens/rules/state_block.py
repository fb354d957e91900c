"""dbt State ``state:`` block rules (spec/dbt-state.md §10 V1–V15)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from freshlens.durations import DurationError, parse_duration, portability_notes
from freshlens.index import Setting, is_dynamic, plain
from freshlens.model import Finding, Loc, Related, Severity
from freshlens.project.reading import read_text
from freshlens.project.yamlpos import YamlError, YMap, YScalar, YSeq, parse_yaml
from freshlens.rules.base import Ctx, did_you_mean, finding, where

MODEL_KEYS = {
    "lag_tolerance",
    "require_fresh_data_from",
    "evaluate_volatile_sql",
    "pre_clone",
    "execute_hooks_on_any_reuse",
    "compare_unrendered_code",
}
TEST_KEYS = {"require_fresh_data_from", "evaluate_volatile_sql", "compare_unrendered_code"}
BOOL_KEYS = {"evaluate_volatile_sql", "execute_hooks_on_any_reuse", "compare_unrendered_code"}
PY_ONLY = {"compare_selected_columns", "ignore_external_modifications"}
STATE_RESOURCES = {"models", "snapshots", "data_tests"}
_SELECT_STAR = re.compile(r"select\s+(?:distinct\s+)?(?:[A-Za-z_][A-Za-z0-9_]*\.)?\*", re.IGNORECASE)


def is_yaml12_bool(val: object) -> bool:
    """A boolean in YAML 1.2 too (Fusion): `true`/`false`, not the YAML 1.1 words `yes`, `on`, …"""
    if not isinstance(val, YScalar) or not isinstance(val.value, bool):
        return False
    return val.text in ("", "true", "True", "TRUE", "false", "False", "FALSE")


def check_state(s: Setting, resource: str) -> Iterator[Finding]:
    v = s.value
    if s.is_null or is_dynamic(v):
        return
    if not isinstance(v, YMap):
        yield finding("FL203", "`state` must be a mapping, e.g. `{lag_tolerance: 4h}`, or null.", s.value_loc)
        return
    allowed = TEST_KEYS if resource == "data_tests" else MODEL_KEYS
    for p in v.items:
        k = str(p.key.value)
        loc = Loc(s.path, p.key.span)
        if k == "execute_hooks_on_reuse":
            yield finding(
                "FL204",
                "`execute_hooks_on_reuse` is a deprecated alias: rename it to `execute_hooks_on_any_reuse`.",
                loc,
                severity=Severity.INFORMATION,
                data=(("fix", "rename:execute_hooks_on_any_reuse"),),
            )
            continue
        if k in PY_ONLY:
            yield finding(
                "FL204", f"`{k}` is read only by the dbt Core plugin; dbt v2/Fusion ignores it.", loc
            )
            continue
        if k not in allowed:
            extra = (
                " (data tests accept only require_fresh_data_from, evaluate_volatile_sql and "
                "compare_unrendered_code)"
                if resource == "data_tests" and k in MODEL_KEYS
                else ""
            )
            yield finding(
                "FL204", f"`{k}` is not a dbt State key{extra}; it is ignored.{did_you_mean(k, allowed)}", loc
            )
            continue
        val = p.value
        if isinstance(val, YScalar) and val.value is None:
            continue
        if is_dynamic(val):
            continue
        if k == "lag_tolerance":
            yield from _lag_tolerance(s, val, Loc(s.path, p.key.span))
        elif k == "require_fresh_data_from":
            pv = plain(val)
            if pv not in ("any", "all"):
                hint = (
                    " The dbt Core plugin accepts other cases, Fusion does not; write it in lower case."
                    if isinstance(pv, str) and pv.lower() in ("any", "all")
                    else ""
                )
                yield finding(
                    "FL209", f"unknown variant `{pv}`, expected `any` or `all`.{hint}", Loc(s.path, val.span)
                )
        elif k == "pre_clone":
            pv = plain(val)
            if pv not in ("never", "if_missing", "always"):
                hint = (
                    " (`if_table_missing` and upper case work only in the dbt Core plugin)"
                    if isinstance(pv, str)
                    and pv.lower() in ("never", "if_missing", "always", "if_table_missing")
                    else ""
                )
                yield finding(
                    "FL210",
                    f"unknown variant `{pv}`, expected one of `never`, `if_missing`, `always`{hint}.",
                    Loc(s.path, val.span),
                )
        elif k in BOOL_KEYS and not is_yaml12_bool(val):
            yield finding(
                "FL211",
                f"`{k}` must be a YAML boolean (true/false), not {plain(val)!r}: Fusion "
                "does not convert strings.",
                Loc(s.path, val.span),
            )


def _lag_tolerance(s: Setting, val: YScalar | YMap | YSeq, key_loc: Loc) -> Iterator[Finding]:
    loc = Loc(s.path, val.span)
    if isinstance(val, YScalar):
        v = val.value
        if isinstance(v, (bool, int | float)):
            yield finding(
                "FL205",
                f"lag_tolerance `{v}` is a number: dbt v2 reads only a duration string or a "
                f"{{count, period}} mapping (the dbt Core plugin would read seconds). Quote it with a "
                f"unit, e.g. `{v}s`.",
                loc,
            )
            return
        if not isinstance(v, str):
            yield finding("FL205", "lag_tolerance must be a duration string like `4h`.", loc)
            return
        try:
            d = parse_duration(v)
        except DurationError as exc:
            yield finding(
                "FL206", f"{exc}. Write `<number><unit>` with s, m, h, d or w, e.g. `30m`, `12h`, `1d`.", loc
            )
            return
        notes = portability_notes(v, d)
        if notes:
            yield finding(
                "FL207",
                f"lag_tolerance `{v}` = {d.seconds} s in dbt v2, but "
                + "; ".join(notes)
                + ". Prefer the documented form, e.g. `"
                + _portable(d.seconds)
                + "`.",
                loc,
            )
        if d.seconds == 0:
            yield finding("FL215", "lag_tolerance 0: every upstream data change rebuilds this model.", loc)
        return
    if isinstance(val, YSeq):
        yield finding(
            "FL205", "lag_tolerance must be a duration string or a {count, period} mapping, not a list.", loc
        )
        return
    count, period = val.get("count"), val.get("period")
    c, p = plain(count), plain(period)
    if (c is None) != (p is None):
        yield finding(
            "FL208",
            f"count and period are required when freshness is provided, count: "
            f"{_rs(c)}, period: {_rs(p)}. Set both, or use a string like `4h`.",
            key_loc,
        )
    if isinstance(count, YScalar) and c is not None and not is_dynamic(count):
        if isinstance(c, bool) or not isinstance(c, int):
            yield finding("FL208", f"count must be an integer, not {c!r}.", Loc(s.path, count.span))
        elif c < 0:
            yield finding(
                "FL208",
                "negative tolerance: engine behaviour is undefined. Use 0 or more.",
                Loc(s.path, count.span),
                severity=Severity.WARNING,
            )
        elif c == 0 and p in ("second", "minute", "hour", "day"):
            yield finding("FL215", "lag_tolerance 0: every upstream data change rebuilds this model.", loc)
    if (
        isinstance(period, YScalar)
        and p is not None
        and not is_dynamic(period)
        and p not in ("second", "minute", "hour", "day")
    ):
        hint = " (`1w` works as a string: `lag_tolerance: 1w`)" if p == "week" else ""
        yield finding(
            "FL208",
            f"unknown variant `{p}`, expected one of `second`, `minute`, `hour`, `day`{hint}.",
            Loc(s.path, period.span),
        )
    up = val.pair("updates_on")
    if up is not None:
        yield finding(
            "FL208",
            "`updates_on` inside lag_tolerance is ignored; use `require_fresh_data_from`.",
            Loc(s.path, up.key.span),
            severity=Severity.WARNING,
        )


def _rs(v: object) -> str:
    if v is None:
        return "None"
    return f"Some({v!r})" if isinstance(v, str) else f"Some({v})"


def _portable(seconds: int) -> str:
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def state_values(ctx: Ctx) -> Iterator[Finding]:
    """V1–V11 on every place a ``state`` block is written."""
    for site in ctx.sites():
        s = site.setting
        if s.key != "state":
            continue
        if site.where == "properties-top":
            if site.resource in ("models", "snapshots"):
                yield finding(
                    "FL202",
                    "a top-level `state:` property is not read; move it under `config:`.",
                    s.loc,
                    data=(("fix", "move_into_config"),),
                )
            continue
        if site.resource not in STATE_RESOURCES:
            kind = site.resource.rstrip("s")
            yield finding(
                "FL201",
                f"dbt State reads `state` on models, snapshots and data tests only; on a {kind} "
                "it is ignored (Fusion: Ignored unexpected key).",
                s.loc,
            )
            continue
        yield from check_state(s, site.resource)


def state_node_rules(ctx: Ctx) -> Iterator[Finding]:
    """V12–V15 per model: whole-block override, both configs, settings without effect, hints."""
    idx = ctx.index
    for node in idx.nodes.values():
        if node.package != idx.name or node.resource_type not in ("model", "snapshot"):
            continue
        eff = node.eff("state")
        if eff.setting is None or not isinstance(eff.value, dict):
            continue
        s = eff.setting
        val = eff.value
        if eff.replaced:
            prev = eff.replaced[-1]
            pv = plain(prev.value)
            lost = sorted(set(pv) - set(val)) if isinstance(pv, dict) else []
            if lost:
                extra = (
                    " (lag_tolerance falls back to build_after or the 45m default)"
                    if "lag_tolerance" in lost
                    else ""
                )
                yield finding(
                    "FL212",
                    f"this `state` block replaces the one from {where(prev)} as a whole: "
                    f"{', '.join(lost)} {'is' if len(lost) == 1 else 'are'} not inherited{extra}. Repeat them here "
                    "if you want them.",
                    s.loc,
                    [Related(prev.loc, "the replaced state block")],
                )
        fr = node.eff("freshness").value
        if isinstance(fr, dict) and isinstance(fr.get("build_after"), dict) and s.layer != "dbt_project.yml":
            yield finding(
                "FL213",
                "this model has both `state` and `freshness.build_after`: dbt State uses state per key and falls "
                "back to build_after for unset keys; SAO uses only build_after (the dbt Core plugin ignores "
                "build_after's count/period).",
                s.loc,
            )
        if s.layer == "dbt_project.yml":
            continue
        mat = node.materialized
        if node.language == "python" or mat == "ephemeral":
            what = (
                "Python models are always built"
                if node.language == "python"
                else "ephemeral models are never built or reused"
            )
            yield finding("FL214", f"`state` has no effect here: {what}.", s.loc)
            continue
        if "lag_tolerance" in val and mat == "view":
            yield finding(
                "FL214",
                "lag_tolerance has no effect on a view: dbt State checks views with a "
                "tolerance of 0 and only their own SQL.",
                _key_loc(s, "lag_tolerance"),
            )
        if "pre_clone" in val and mat != "incremental" and node.resource_type != "snapshot":
            yield finding(
                "FL214",
                "pre_clone has no effect: only incremental models and snapshots are pre-cloned.",
                _key_loc(s, "pre_clone"),
            )
        if val.get("execute_hooks_on_any_reuse") is True and not (
            node.eff("pre_hook").is_set or node.eff("post_hook").is_set
        ):
            yield finding(
                "FL214",
                "execute_hooks_on_any_reuse has no effect: this model has no pre/post hooks.",
                _key_loc(s, "execute_hooks_on_any_reuse"),
            )
        if val.get("require_fresh_data_from") == "all" and len(node.parents) <= 1:
            yield finding(
                "FL214",
                f"require_fresh_data_from: all with {len(node.parents)} upstream: same as any.",
                _key_loc(s, "require_fresh_data_from"),
            )
        if mat == "view" and node.path and node.language == "sql":
            text = _file_text(ctx, node.path)
            m = _SELECT_STAR.search(text or "")
            if m:
                yield finding(
                    "FL215",
                    "this view uses `select *`: dbt State always rebuilds such views.",
                    s.loc,
                    [Related(Loc(node.path, _span_of(text or "", m.start(), m.end())), "the select *")],
                )


def _key_loc(s: Setting, key: str) -> Loc:
    """The key inside the written state block, or the `state` key when it is not written there."""
    pair = s.value.pair(key) if isinstance(s.value, YMap) else None
    return Loc(s.path, pair.key.span) if pair is not None else s.loc


def _file_text(ctx: Ctx, path: str) -> str | None:
    for pkg in [ctx.index.root, *ctx.index.packages]:
        f = pkg.sql.get(path)
        if f is not None:
            return f.text
    return None


def _span_of(text: str, a: int, b: int):  # type: ignore[no-untyped-def]
    from freshlens.project.text import LineIndex

    return LineIndex(text).span(a, b)


def _bool_problem(val: object) -> bool:
    return not (isinstance(val, YScalar) and (val.value is None or is_dynamic(val) or is_yaml12_bool(val)))


def project_flags(ctx: Ctx) -> Iterator[Finding]:
    """V17 (FL217): ``flags: manage_state`` in dbt_project.yml must be a boolean."""
    pf = ctx.index.root.project
    flags = pf.root.get("flags") if pf.root is not None else None
    if not isinstance(flags, YMap):
        return
    p = flags.pair("manage_state")
    if p is not None and _bool_problem(p.value):
        shown = p.value.text or plain(p.value) if isinstance(p.value, YScalar) else "a collection"
        yield finding(
            "FL217",
            f"`manage_state` must be a YAML boolean (true/false), not {shown!r}: dbt State is not "
            "turned on by a string.",
            Loc(pf.path, p.value.span),
        )


def profile_keys(ctx: Ctx) -> Iterator[Finding]:
    """V16 (FL216): dbt State keys on the outputs of the project directory's ``profiles.yml``."""
    pf = ctx.index.root.project
    path = os.path.join(os.path.dirname(pf.path), "profiles.yml")
    try:
        root = parse_yaml(read_text(path))
    except (OSError, UnicodeDecodeError, YamlError):
        return
    if not isinstance(root, YMap):
        return
    for prof in root.items:
        if not isinstance(prof.value, YMap) or str(prof.key.value) == "config":
            continue
        outputs = prof.value.get("outputs")
        if not isinstance(outputs, YMap):
            continue
        names = {str(o.key.value) for o in outputs.items}
        for o in outputs.items:
            out = o.value
            if not isinstance(out, YMap):
                continue
            oname = str(o.key.value)
            typ = plain(out.get("type"))
            dyn_type = is_dynamic(out.get("type")) or (isinstance(typ, str) and "{{" in typ)
            d = out.pair("defer_to_target")
            if d is not None and not is_dynamic(d.value):
                dv = plain(d.value)
                if not isinstance(dv, str) or not dv.strip():
                    yield finding(
                        "FL216",
                        "`defer_to_target` must be a non-empty string naming an output of this profile.",
                        Loc(path, d.value.span),
                    )
                elif "{{" in dv:
                    pass
                elif dv == oname:
                    yield finding(
                        "FL216",
                        f"`defer_to_target` names this output itself: dbt State treats `{oname}` as "
                        "production (no auto-deferral, no dev clones).",
                        Loc(path, d.value.span),
                        severity=Severity.INFORMATION,
                    )
                elif dv not in names:
                    yield finding(
                        "FL216",
                        f"`defer_to_target: {dv}` names no output of profile `{prof.key.value}`."
                        f"{did_you_mean(dv, names)}",
                        Loc(path, d.value.span),
                    )
            for key in ("metadata_warehouse", "adaptive_metadata_fetch"):
                kp = out.pair(key)
                if kp is not None and not dyn_type and typ != "snowflake":
                    yield finding(
                        "FL216",
                        f"`{key}` is read only for Snowflake outputs; on a `{typ}` output it is ignored.",
                        Loc(path, kp.key.span),
                    )
            for key in ("allow_clones", "adaptive_metadata_fetch"):
                kp = out.pair(key)
                if kp is not None and _bool_problem(kp.value):
                    yield finding(
                        "FL216",
                        f"`{key}` must be a YAML boolean (true/false), not {plain(kp.value)!r}: a string other "
                        "than `true` counts as false.",
                        Loc(path, kp.value.span),
                    )
