"""Stable diagnostic codes. A code never changes meaning once released; retire codes, never reuse them.

Each entry: code -> (default severity, spec rule, short title). The spec rule names the section of
``spec/sao.md`` (``SAO-V1`` …), ``spec/dbt-state.md`` (``STATE-V1`` …), ``spec/dbt-v2-freshness.md``
(``V2F-MV1`` …) or ``GEN`` for general checks.
"""

from __future__ import annotations

from dataclasses import dataclass

from freshlens.model import Severity

E, W, I, H = Severity.ERROR, Severity.WARNING, Severity.INFORMATION, Severity.HINT


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    severity: Severity
    rule: str
    title: str


_TABLE: tuple[Code, ...] = (
    # General: files, syntax, references.
    Code("FL001", E, "GEN", "YAML syntax error"),
    Code("FL002", E, "GEN", "Jinja syntax error (unterminated block or call)"),
    Code("FL003", E, "GEN", "ref() to a model, seed or snapshot that does not exist"),
    Code("FL004", E, "GEN", "source() to a source table that does not exist"),
    Code("FL005", E, "GEN", "two models with the same name"),
    Code("FL006", W, "GEN", "config key placed where dbt ignores it"),
    Code("FL007", W, "GEN", "duplicate key in a YAML mapping (the last one wins)"),
    Code("FL008", E, "GEN", "file cannot be read (encoding or I/O)"),
    Code("FL009", I, "GEN", "ref()/source() whose target is computed: not resolved"),
    Code("FL010", W, "GEN", "properties entry for a model that has no file"),
    Code("FL011", W, "GEN", "file not analysed (not a regular file, too large, too deep, binary or gone)"),
    Code(
        "FL012",
        I,
        "GEN",
        "model's Jinja could not be rendered: its dependencies and configs may be incomplete",
    ),
    # Model freshness (spec/sao.md section 6).
    Code("FL101", E, "SAO-V1", "build_after needs both count and period, or neither"),
    Code("FL102", E, "SAO-V2", "build_after period must be minute, hour or day"),
    Code("FL103", E, "SAO-V3", "build_after updates_on must be any or all (no Jinja)"),
    Code("FL104", E, "SAO-V4", "build_after count must be an integer"),
    Code("FL105", W, "SAO-V4", "build_after count is negative"),
    Code("FL106", W, "SAO-V5", "only build_after is read under a model's freshness"),
    Code("FL107", E, "SAO-V6", "build_after: null is rejected by dbt Core"),
    Code("FL108", W, "SAO-V7", "config in dbt_project.yml needs a + prefix"),
    Code("FL109", W, "SAO-V8", "top-level freshness on a model is ignored; move it under config"),
    Code("FL110", W, "SAO-V9", "freshness: null on a model does not clear an inherited +freshness"),
    Code("FL111", E, "SAO-V1", "freshness / build_after must be a mapping"),
    # Source freshness (spec/sao.md section 6).
    Code("FL120", E, "SAO-V10", "loaded_at_field and loaded_at_query at the same level"),
    Code("FL121", I, "SAO-V10", "loaded_at_field and loaded_at_query at different levels"),
    Code("FL122", E, "SAO-V11", "loaded_at_field is an empty string"),
    Code("FL123", W, "SAO-V12", "warn_after/error_after needs both count and period"),
    Code("FL124", E, "SAO-V13", "source freshness period must be minute, hour or day"),
    Code(
        "FL125", W, "SAO-V14", "no loaded_at_field/loaded_at_query on an adapter without metadata freshness"
    ),
    Code("FL126", I, "SAO-V15", "filter only applies to loaded_at_field"),
    Code("FL127", I, "SAO-V16", "source is a view without loaded_at_*: always fresh"),
    Code("FL128", I, "SAO-V17", "freshness on a Python model has no effect"),
    Code("FL129", H, "SAO-V18", "updates_on: all has pitfalls here"),
    Code("FL130", W, "SAO-V5", "unknown key in source freshness"),
    Code("FL131", E, "SAO-V13", "source freshness count must be an integer"),
    # dbt v2 model freshness SLA (spec/dbt-v2-freshness.md section 3).
    Code("FL301", E, "V2F-MV1", "model warn_after/error_after needs both count and period"),
    Code("FL302", E, "V2F-MV2", "model loaded_at_field and loaded_at_query at the same level"),
    Code("FL303", I, "V2F-MV3", "model loaded_at_field/loaded_at_query: which one dbt v2 uses"),
    Code("FL304", E, "V2F-MV4", "freshness SLA on an ephemeral model"),
    Code("FL305", E, "V2F-MV5", "freshness SLA on a view/external model without loaded_at_*"),
    Code("FL306", W, "V2F-MV8", "model freshness filter without loaded_at_field"),
    Code("FL307", W, "V2F-MV13", "model loaded_at_* that nothing reads"),
    Code("FL308", E, "V2F-MV11", "model SLA period must be minute, hour or day"),
    Code("FL309", W, "V2F-MV12", "model SLA count must be a positive whole number"),
    Code("FL310", I, "V2F-MV9", "freshness: null does not opt a model out of an inherited SLA"),
    Code("FL311", I, "V2F-MV10", "a model freshness replaces the inherited one whole: keys are lost"),
    Code("FL312", W, "V2F-MV7", "model SLA measured by metadata on an adapter without metadata freshness"),
    # dbt State `state:` block (spec/dbt-state.md section 10).
    Code("FL201", W, "STATE-V1", "state is not read on this resource type"),
    Code("FL202", W, "STATE-V2", "state placed where it is not read"),
    Code("FL203", E, "STATE-V3", "state must be a mapping"),
    Code("FL204", W, "STATE-V4", "unknown key in state"),
    Code("FL205", E, "STATE-V5", "lag_tolerance must be a duration string or a count/period mapping"),
    Code("FL206", E, "STATE-V6", "lag_tolerance duration is invalid"),
    Code("FL207", W, "STATE-V6", "lag_tolerance means different things on different engines"),
    Code("FL208", E, "STATE-V7", "lag_tolerance mapping is invalid"),
    Code("FL209", E, "STATE-V8", "require_fresh_data_from must be any or all"),
    Code("FL210", E, "STATE-V9", "pre_clone must be never, if_missing or always"),
    Code("FL211", E, "STATE-V10", "state flag must be a YAML boolean"),
    Code("FL212", I, "STATE-V12", "state block replaces the inherited one as a whole"),
    Code("FL213", I, "STATE-V13", "state and freshness.build_after on the same model"),
    Code("FL214", I, "STATE-V14", "state setting has no effect here"),
    Code("FL215", H, "STATE-V15", "dbt State will rebuild this often"),
    Code("FL216", W, "STATE-V16", "dbt State profile key problem"),
    Code("FL217", W, "STATE-V17", "dbt State project flag problem"),
)

CODES: dict[str, Code] = {c.code: c for c in _TABLE}

# Each code's page, docs/rules/<code>.md, in the repository named by client-vscode/package.json's
# "repository" field. The one place the address is written (LSP codeDescription, check's JSON).
DOCS_BASE_URL = "https://github.com/freshlens/freshlens/blob/HEAD/docs/rules/"


def docs_url(c: str) -> str:
    return f"{DOCS_BASE_URL}{c}.md"


def code(c: str) -> Code:
    return CODES[c]
