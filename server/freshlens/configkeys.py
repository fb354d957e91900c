"""What each config key means and what it accepts: one table for completion, its docs and inlay hints.

The keys and values follow spec/sao.md (model and source ``freshness``) and spec/dbt-state.md (the
``state:`` block, §2–§6); the general model configs are dbt's documented resource configs.
"""

from __future__ import annotations

from dataclasses import dataclass

from freshlens.rules.model_freshness import BUILD_AFTER_KEYS, PERIODS
from freshlens.rules.source_freshness import FRESHNESS_KEYS
from freshlens.rules.state_block import MODEL_KEYS as STATE_KEYS

MATERIALIZATIONS = ("view", "table", "incremental", "ephemeral", "materialized_view", "snapshot")
BOOLS = ("true", "false")

# key -> the values it accepts (offered in this order)
ENUMS: dict[str, tuple[str, ...]] = {
    "period": PERIODS,
    "updates_on": ("any", "all"),
    "require_fresh_data_from": ("any", "all"),
    "pre_clone": ("never", "if_missing", "always"),
    "materialized": MATERIALIZATIONS,
    "execute_hooks_on_any_reuse": BOOLS,
    "evaluate_volatile_sql": BOOLS,
    "compare_unrendered_code": BOOLS,
    "enabled": BOOLS,
    "full_refresh": BOOLS,
    "on_schema_change": ("ignore", "fail", "append_new_columns", "sync_all_columns"),
    "access": ("private", "protected", "public"),
    "incremental_strategy": ("append", "merge", "delete+insert", "insert_overwrite", "microbatch"),
}

# The documented portable lag_tolerance form `<number><unit>` (spec dbt-state.md §2.3.1).
LAG_TOLERANCES = ("45m", "30m", "1h", "4h", "12h", "1d", "7d")


@dataclass(frozen=True, slots=True)
class KeyDoc:
    summary: str
    example: str = ""


DOCS: dict[str, KeyDoc] = {
    "freshness": KeyDoc(
        "State-aware orchestration: `build_after` throttles how often the model is rebuilt when upstream "
        "data is new (spec SAO §5). On a source: `warn_after` / `error_after` thresholds.",
        "freshness:\n  build_after: {count: 4, period: hour, updates_on: any}",
    ),
    "build_after": KeyDoc(
        "Build only when upstream has new data and at least `count` × `period` passed since the last "
        "build; both or neither of `count` and `period` (SAO-V1).",
        "build_after: {count: 4, period: hour}",
    ),
    "count": KeyDoc("A whole number of periods (SAO-V4).", "count: 4"),
    "period": KeyDoc("`minute`, `hour` or `day` (SAO-V2).", "period: hour"),
    "updates_on": KeyDoc(
        "`any`: one upstream with new data is enough; `all`: every upstream must have new data (SAO-V3).",
        "updates_on: any",
    ),
    "state": KeyDoc(
        "dbt State: `lag_tolerance`, `require_fresh_data_from`, `pre_clone`, `execute_hooks_on_any_reuse`, "
        "`evaluate_volatile_sql`. Replaces an inherited `state` block as a whole (STATE-V12).",
        "state:\n  lag_tolerance: 4h",
    ),
    "lag_tolerance": KeyDoc(
        "How much newer upstream data may be than this model's last build before dbt State rebuilds it: "
        "a duration `<number><unit>` (s, m, h, d, w) or `{count, period}`. Default 45m; falls back to "
        "`build_after` (dbt State §2.2).",
        "lag_tolerance: 4h",
    ),
    "require_fresh_data_from": KeyDoc(
        "`any` (default) or `all` upstreams must have new data beyond the tolerance (dbt State §3).",
        "require_fresh_data_from: any",
    ),
    "pre_clone": KeyDoc(
        "`never`, `if_missing` or `always`: clone an incremental model or snapshot from the deferral "
        "environment before building it (dbt State §6.2).",
        "pre_clone: if_missing",
    ),
    "execute_hooks_on_any_reuse": KeyDoc(
        "Run the model's hooks also when it is reused (dbt State §6.3).", "execute_hooks_on_any_reuse: true"
    ),
    "evaluate_volatile_sql": KeyDoc(
        "Treat SQL that calls volatile functions (`current_timestamp()`, …) as always changed (dbt State §5.3).",
        "evaluate_volatile_sql: true",
    ),
    "compare_unrendered_code": KeyDoc(
        "Compare the code before Jinja rendering when looking for code changes (dbt State §4).",
        "compare_unrendered_code: true",
    ),
    "warn_after": KeyDoc(
        "Warn when the newest row is older than `count` × `period`. Sources; on models a dbt v2 "
        "freshness SLA checked by `dbt freshness` (V2F-MV1), dropped by dbt Core 1.x.",
        "warn_after: {count: 24, period: hour}",
    ),
    "error_after": KeyDoc(
        "Error when the newest row is older than `count` × `period`. Sources; on models a dbt v2 "
        "freshness SLA checked by `dbt freshness` (V2F-MV1), dropped by dbt Core 1.x.",
        "error_after: {count: 48, period: hour}",
    ),
    "filter": KeyDoc(
        "A SQL `where` clause applied when `loaded_at_field` is measured (SAO-V15, V2F-MV8).", ""
    ),
    "loaded_at_field": KeyDoc(
        "The column whose `max()` tells when the data last changed; not together with "
        "`loaded_at_query` at one level (SAO-V10). On a model (dbt v2, beside `freshness`): measures its "
        "SLA, required for a view (V2F-MV5); never decides build or reuse.",
        "loaded_at_field: _loaded_at",
    ),
    "loaded_at_query": KeyDoc(
        "A query returning when the data last changed; not together with `loaded_at_field` (SAO-V10, "
        "V2F-MV2). Wins over `loaded_at_field` when both reach a model.",
        "",
    ),
    "materialized": KeyDoc("How dbt builds the model: view, table, incremental, ephemeral, …", ""),
    "enabled": KeyDoc("`false` removes the node from the project.", ""),
    "tags": KeyDoc("Tags for selection (`dbt build -s tag:…`).", ""),
    "schema": KeyDoc("Custom schema (appended to the target schema by default).", ""),
    "alias": KeyDoc("The relation name in the warehouse.", ""),
    "database": KeyDoc("Custom database.", ""),
}

# Keys worth seeing first at a model's config level
FIRST = ("freshness", "state", "materialized", "enabled", "tags")

TOP_PROJECT_KEYS = (
    "name",
    "version",
    "config-version",
    "profile",
    "model-paths",
    "seed-paths",
    "snapshot-paths",
    "macro-paths",
    "target-path",
    "models",
    "seeds",
    "snapshots",
    "sources",
    "data_tests",
    "vars",
    "flags",
)
TOP_PROPS_KEYS = ("version", "models", "sources", "seeds", "snapshots", "macros", "exposures")
MODEL_ENTRY_KEYS = (
    "name",
    "description",
    "config",
    "columns",
    "versions",
    "latest_version",
    "data_tests",
    "docs",
    "access",
    "group",
    "constraints",
    "deprecation_date",
)
VERSION_ENTRY_KEYS = ("v", "defined_in", "config", "columns", "description")
COLUMN_KEYS = ("name", "description", "data_type", "data_tests", "constraints", "meta", "config")
SOURCE_KEYS = (
    "name",
    "description",
    "database",
    "schema",
    "loader",
    "loaded_at_field",
    "loaded_at_query",
    "freshness",
    "tables",
    "config",
    "meta",
    "tags",
)
TABLE_KEYS = (
    "name",
    "description",
    "identifier",
    "loaded_at_field",
    "loaded_at_query",
    "freshness",
    "columns",
    "config",
    "meta",
    "tags",
)
THRESHOLD_KEYS = ("count", "period")
# Under a model's freshness besides build_after, read by dbt v2 only (spec dbt-v2-freshness.md G1, G3:
# loaded_at_* belong beside freshness, so they are not offered inside it).
MODEL_SLA_KEYS = ("warn_after", "error_after", "filter")
SOURCE_PERIODS = PERIODS

__all__ = [
    "BUILD_AFTER_KEYS",
    "DOCS",
    "ENUMS",
    "FRESHNESS_KEYS",
    "LAG_TOLERANCES",
    "STATE_KEYS",
    "KeyDoc",
]


def doc_markdown(key: str) -> str | None:
    """The documentation of a config key, as Markdown (completion resolve)."""
    d = DOCS.get(key.lstrip("+"))
    if d is None:
        return None
    out = [f"**{key}** — {d.summary}"]
    if d.example:
        out.append(f"```yaml\n{d.example}\n```")
    vals = ENUMS.get(key.lstrip("+"))
    if vals:
        out.append("Values: " + ", ".join(f"`{v}`" for v in vals))
    return "\n\n".join(out)
