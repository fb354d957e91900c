"""Differential tests: real dbt-core (``dbt parse``) against ``freshlens check`` on one config variant each.

Each variant is a tiny scratch project (the oracle's base project with some files replaced) built in a
tmp dir. Its expected dbt verdict comes from ``spec/dbt-core-oracle.md`` sections 4.1 (models, levels
P = ``dbt_project.yml`` ``+freshness``, Y = properties YAML ``config:``, S = SQL ``config()``) and 4.2
(sources), plus ``spec/sao.md`` section 6 where the oracle has no row.

Assertions:

* dbt's real verdict matches the oracle (so a dbt upgrade that changes behaviour shows up here);
* a variant dbt **rejects** gets at least one ``error`` diagnostic from freshlens in the file that
  holds the bad config (and the code we expect, when the variant names one);
* a variant dbt **accepts** gets no ``error`` diagnostic, unless the specs make freshlens stricter
  than dbt: then the variant names the spec rule (``stricter=``) and freshlens must report ``code``
  as an error in that file.

The dbt parses run in parallel once per session (fixture ``dbt_verdicts``); nothing is cached
outside pytest's tmp dirs.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dbtdiff import DBT, REPO, DbtRun, Verdict, run_dbt_parse, run_freshlens, write_files

WORKERS = 3

pytestmark = [
    pytest.mark.dbt,
    pytest.mark.skipif(
        not DBT.exists(),
        reason=f"real dbt not installed ({DBT.relative_to(REPO)} missing): run scripts/setup.sh",
    ),
]

# --------------------------------------------------------------------------------------------------
# The base project (same shape as the oracle's): models m_target, m_other, sub/m_sub; source src with
# tables t1, t2; seed s1. A variant overrides whole files; every base file is valid for dbt and clean
# for freshlens (no error-severity diagnostics).
# --------------------------------------------------------------------------------------------------

PROJECT_HEAD = """\
name: v
version: "1.0.0"
config-version: 2
profile: v
"""

BASE: dict[str, str] = {
    "dbt_project.yml": PROJECT_HEAD
    + """\
models:
  v:
    +materialized: table
""",
    "profiles.yml": """\
v:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: v.duckdb
      threads: 1
""",
    "models/m_target.sql": "select 1 as id\n",
    "models/m_other.sql": "select id from {{ source('src', 't1') }}\n",
    "models/sub/m_sub.sql": "select id from {{ ref('m_target') }}\n",
    "models/_models.yml": """\
version: 2
models:
  - name: m_target
  - name: m_other
""",
    "models/_sources.yml": """\
version: 2
sources:
  - name: src
    schema: raw
    tables:
      - name: t1
      - name: t2
""",
    "seeds/s1.csv": "id\n1\n",
}


def project_yml(models_block: str) -> str:
    """dbt_project.yml with the given (already indented) body under ``models: v:``."""
    return PROJECT_HEAD + "models:\n  v:\n    +materialized: table\n" + models_block


def models_yml(target_body: str) -> str:
    """_models.yml whose ``m_target`` entry gets ``target_body`` (indented 4 spaces)."""
    return f"version: 2\nmodels:\n  - name: m_target\n{target_body}  - name: m_other\n"


def target_sql(config_kwargs: str) -> str:
    return "{{ config(" + config_kwargs + ") }}\nselect 1 as id\n"


def sources_yml(body: str) -> str:
    """_sources.yml with source ``src`` (schema raw); ``body`` holds its keys and ``tables:``."""
    return "version: 2\nsources:\n  - name: src\n    schema: raw\n" + body


P_FILE = "dbt_project.yml"
Y_FILE = "models/_models.yml"
S_FILE = "models/m_target.sql"
SRC_FILE = "models/_sources.yml"

# Y-level snippets (under `- name: m_target`).
Y_BA = "    config:\n      freshness:\n        build_after:\n"


def y_build_after(*lines: str) -> str:
    return Y_BA + "".join(f"          {line}\n" for line in lines)


def p_freshness(*lines: str) -> str:
    return "    +freshness:\n      build_after:\n" + "".join(f"        {line}\n" for line in lines)


TABLES_T1_T2 = "    tables:\n      - name: t2\n"


@dataclass(frozen=True)
class Variant:
    name: str
    files: dict[str, str]
    dbt: Verdict  # the oracle's verdict
    bad_file: str  # where the bad (or questionable) config is
    code: str | None = None  # the freshlens code we expect there (error for rejects / stricter)
    stricter: str | None = None  # spec rule that makes freshlens stricter than dbt
    oracle: str = ""  # where the expected verdict comes from
    notes: str = ""

    def project_files(self) -> dict[str, str]:
        return {**BASE, **self.files}


def _t1(config_body: str, source_keys: str = "") -> str:
    """A source with optional source-level keys and table t1 whose ``config:`` gets ``config_body``."""
    return sources_yml(
        source_keys
        + "    tables:\n      - name: t1\n        config:\n"
        + "".join(f"          {line}\n" for line in config_body.splitlines())
        + "      - name: t2\n"
    )


FRESH_WARN = "freshness:\n  warn_after: {count: 6, period: hour}"
REJECTS: Verdict = "rejects"
ACCEPTS: Verdict = "accepts"


def _p(name: str, body: str, dbt: Verdict, code: str | None, oracle: str, **kw: Any) -> Variant:
    """Model freshness at the dbt_project.yml level (P)."""
    return Variant(name, {P_FILE: project_yml(body)}, dbt, P_FILE, code, oracle=oracle, **kw)


def _y(name: str, body: str, dbt: Verdict, code: str | None, oracle: str, **kw: Any) -> Variant:
    """Model freshness at the properties YAML level (Y), ``body`` under ``- name: m_target``."""
    return Variant(name, {Y_FILE: models_yml(body)}, dbt, Y_FILE, code, oracle=oracle, **kw)


def _s(name: str, kwargs: str, dbt: Verdict, code: str | None, oracle: str, **kw: Any) -> Variant:
    """Model freshness at the SQL ``config()`` level (S)."""
    return Variant(name, {S_FILE: target_sql(kwargs)}, dbt, S_FILE, code, oracle=oracle, **kw)


def _src(name: str, sources: str, dbt: Verdict, code: str | None, oracle: str, **kw: Any) -> Variant:
    """Source freshness / loaded_at_* in models/_sources.yml."""
    return Variant(name, {SRC_FILE: sources}, dbt, SRC_FILE, code, oracle=oracle, **kw)


def _ba(inner: str) -> str:
    return "freshness={'build_after': {" + inner + "}}"


FIELD = "loaded_at_field: _loaded_at\n"

VARIANTS: tuple[Variant, ...] = (
    # ---- models, rejected by dbt (oracle 4.1 "Rejected", 3.2) --------------------------------------
    _p("P_period_without_count", p_freshness("period: hour"), REJECTS, "FL101", "4.1 period without count"),
    _s("S_period_without_count", _ba("'period': 'hour'"), REJECTS, "FL101", "4.1 period without count"),
    _p("P_count_without_period", p_freshness("count: 4"), REJECTS, "FL101", "4.1 count without period"),
    _y("Y_count_without_period", y_build_after("count: 4"), REJECTS, "FL101", "4.1 count without period"),
    Variant(
        "PY_count_not_inherited",
        {
            P_FILE: project_yml(p_freshness("count: 4", "period: hour", "updates_on: all")),
            Y_FILE: models_yml(y_build_after("count: 2")),
        },
        REJECTS,
        Y_FILE,
        "FL101",
        oracle="3.2.2 project {4 hour all} + YAML {count: 2}: the period is not inherited",
    ),
    _p("P_period_week", p_freshness("count: 1", "period: week"), REJECTS, "FL102", "4.1 period week"),
    _y("Y_period_hours", y_build_after("count: 1", "period: hours"), REJECTS, "FL102", "4.1 period hours"),
    _s("S_period_Hour", _ba("'count': 1, 'period': 'Hour'"), REJECTS, "FL102", "4.1 period Hour"),
    _y(
        "Y_updates_on_some",
        y_build_after("count: 4", "period: hour", "updates_on: some"),
        REJECTS,
        "FL103",
        "4.1 updates_on some",
    ),
    _s(
        "S_updates_on_ALL",
        _ba("'count': 4, 'period': 'hour', 'updates_on': 'ALL'"),
        REJECTS,
        "FL103",
        "4.1 updates_on ALL",
    ),
    _y(
        "Y_build_after_list",
        "    config:\n      freshness:\n        build_after:\n          - {count: 4, period: hour}\n",
        REJECTS,
        "FL111",
        "4.1 build_after is a list",
    ),
    _y(
        "Y_build_after_null",
        "    config:\n      freshness:\n        build_after: null\n",
        REJECTS,
        "FL107",
        "4.1 build_after: null",
    ),
    _s(
        "S_count_jinja_string",
        _ba("'count': '{{ 2 + 2 }}', 'period': 'hour'"),
        REJECTS,
        "FL104",
        "4.1 S only: a Jinja string inside config() is not rendered",
        notes="FL104: the string is not rendered, so it is not an integer",
    ),
    _y(
        "Y_disabled_period_week",
        "    config:\n      enabled: false\n      freshness:\n        build_after: {count: 1, period: week}\n",
        REJECTS,
        "FL102",
        "3.2.6 disabled models are still validated",
    ),
    # ---- models, accepted by dbt (oracle 4.1 "Silently accepted") ----------------------------------
    _y(
        "Y_count_negative",
        y_build_after("count: -1", "period: hour"),
        ACCEPTS,
        None,
        "4.1 count: -1",
        notes="FL105 warning",
    ),
    _y(
        "Y_count_float",
        y_build_after("count: 1.5", "period: hour"),
        ACCEPTS,
        "FL104",
        "4.1 count: 4.5 is truncated",
        stricter="SAO-V4",
    ),
    _y(
        "Y_count_true",
        y_build_after("count: true", "period: hour"),
        ACCEPTS,
        "FL104",
        "4.1 count: true -> 1",
        stricter="SAO-V4",
    ),
    _y(
        "Y_count_string",
        y_build_after("count: '4'", "period: hour"),
        ACCEPTS,
        "FL104",
        "4.1 count: '4' is coerced -> 4",
        stricter="SAO-V4 (count must be an integer; the JSON schema allows only an integer or a Jinja string)",
    ),
    _y(
        "Y_count_jinja_var",
        y_build_after("count: \"{{ var('n', 3) }}\"", "period: hour"),
        ACCEPTS,
        None,
        "4.1 Jinja is rendered at P/Y",
    ),
    _y(
        "Y_build_after_empty",
        "    config:\n      freshness:\n        build_after: {}\n",
        ACCEPTS,
        None,
        "4.1 build_after: {}",
    ),
    _s(
        "S_updates_on_only",
        _ba("'updates_on': 'all'"),
        ACCEPTS,
        None,
        "4.1 {updates_on: all} alone (valid since 1.11)",
    ),
    _y(
        "Y_warn_after_only",
        "    config:\n      freshness:\n        warn_after: {count: 1, period: hour}\n",
        ACCEPTS,
        None,
        "4.1 {warn_after: ...} -> null",
        notes="FL106 warning",
    ),
    _s(
        "S_build_afer_typo",
        "freshness={'build_afer': {'count': 4, 'period': 'hour'}}",
        ACCEPTS,
        None,
        "4.1 {build_afer: ...} -> null",
    ),
    _y(
        "Y_freshness_string",
        '    config:\n      freshness: "4 hours"\n',
        ACCEPTS,
        "FL111",
        '4.1 freshness: "4 hours" -> null',
        stricter="SAO-V1 (docs/rules/FL111.md: dropped silently by dbt Core, a type error in Fusion)",
    ),
    _p(
        "P_freshness_without_plus",
        "    freshness:\n      build_after:\n        count: 4\n        period: hour\n",
        ACCEPTS,
        None,
        "4.1 freshness: without + (UnusedResourceConfigPath)",
        notes="FL108 warning",
    ),
    _y(
        "Y_top_level_freshness",
        "    freshness:\n      build_after: {count: 4, period: hour}\n",
        ACCEPTS,
        None,
        "4.1 top-level model property freshness is ignored",
        notes="FL109 warning",
    ),
    Variant(
        "PY_null_does_not_clear",
        {
            P_FILE: project_yml(p_freshness("count: 4", "period: hour")),
            Y_FILE: models_yml("    config:\n      freshness: null\n"),
        },
        ACCEPTS,
        Y_FILE,
        None,
        oracle="3.2.4 a YAML null cannot clear a project value",
        notes="FL110 warning",
    ),
    _p(
        "P_sub_folder_null",
        p_freshness("count: 4", "period: hour") + "    sub:\n      +freshness: null\n",
        ACCEPTS,
        None,
        "3.2.4 +freshness: null on a sub-folder clears it",
    ),
    Variant(
        "seed_period_week",
        {
            "seeds/_seeds.yml": "version: 2\nseeds:\n  - name: s1\n    config:\n      freshness:\n"
            "        build_after: {count: 1, period: week}\n"
        },
        ACCEPTS,
        "seeds/_seeds.yml",
        None,
        oracle="4.1 freshness on a seed is stored verbatim, never validated",
    ),
    # ---- sources (oracle 4.2, 3.3; spec/sao.md V10-V13) ----------------------------------------------
    _src(
        "src_field_and_query_table",
        _t1(FIELD + "loaded_at_query: select max(_loaded_at) from raw.t1\n" + FRESH_WARN),
        REJECTS,
        "FL120",
        "4.2 both at the same table",
    ),
    _src(
        "src_field_and_query_source",
        sources_yml(
            "    config:\n      loaded_at_field: _loaded_at\n      loaded_at_query: select 1\n"
            "      freshness:\n        warn_after: {count: 6, period: hour}\n"
            "    tables:\n      - name: t1\n      - name: t2\n"
        ),
        REJECTS,
        "FL120",
        "4.2 both at the same source",
    ),
    _src(
        "src_period_week",
        _t1(FIELD + "freshness:\n  warn_after: {count: 1, period: week}"),
        REJECTS,
        "FL124",
        "4.2 warn_after period week (with a traceback)",
    ),
    _src(
        "src_empty_loaded_at_field_property",
        sources_yml(
            "    tables:\n      - name: t1\n        loaded_at_field: ''\n"
            "        freshness:\n          warn_after: {count: 6, period: hour}\n      - name: t2\n"
        ),
        REJECTS,
        "FL122",
        "sao.md V11: loaded_at_field cannot be an empty string",
    ),
    _src(
        "src_empty_loaded_at_field_config",
        _t1("loaded_at_field: ''\n" + FRESH_WARN),
        ACCEPTS,
        "FL122",
        "measured here: the config: form is not validated (no oracle row)",
        stricter="SAO-V11",
    ),
    _src(
        "src_fields_at_different_levels",
        _t1(
            "loaded_at_query: select max(_loaded_at) from raw.t1\n" + FRESH_WARN,
            "    config:\n      loaded_at_field: _loaded_at\n",
        ),
        ACCEPTS,
        None,
        "3.3 different levels: both kept, the query wins",
        notes="FL121 information",
    ),
    _src(
        "src_error_after_count_only",
        _t1(FIELD + "freshness:\n  error_after: {count: 2}"),
        ACCEPTS,
        None,
        "4.2 error_after without period is ignored",
        notes="FL123 warning",
    ),
    _src(
        "src_warn_afer_typo",
        _t1(FIELD + "freshness:\n  warn_afer: {count: 1, period: hour}"),
        ACCEPTS,
        None,
        "4.2 warn_afer typo is ignored",
        notes="FL130 warning",
    ),
    _src(
        "src_build_after_in_source",
        _t1(FIELD + "freshness:\n  build_after: {count: 1, period: hour}"),
        ACCEPTS,
        None,
        "4.2 build_after under source freshness is ignored",
        notes="FL130 warning",
    ),
    _src(
        "src_count_string",
        _t1(FIELD + "freshness:\n  warn_after: {count: '4', period: hour}"),
        ACCEPTS,
        "FL131",
        "4.2 count: '4' is coerced",
        stricter="SAO-V13 (docs/rules/FL131.md: JSON schema allows an integer or a Jinja string; Fusion an integer)",
    ),
    _src(
        "src_legacy_top_level",
        sources_yml(
            "    loaded_at_field: _loaded_at\n    freshness:\n      warn_after: {count: 6, period: hour}\n"
            "    tables:\n      - name: t1\n      - name: t2\n"
        ),
        ACCEPTS,
        None,
        "4.2 legacy top-level freshness / loaded_at_field still work",
    ),
    _src(
        "src_table_null_clears",
        sources_yml(
            "    config:\n      loaded_at_field: _loaded_at\n"
            "      freshness:\n        warn_after: {count: 6, period: hour}\n"
            "    tables:\n      - name: t1\n        config:\n          freshness: null\n"
            "      - name: t2\n"
        ),
        ACCEPTS,
        None,
        "3.3 table freshness: null clears the source value",
    ),
)


@pytest.fixture(scope="session")
def dbt_verdicts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, DbtRun]]:
    """``dbt parse`` every variant once, in parallel; print each verdict with its timing."""
    root = tmp_path_factory.mktemp("dbt_variants")
    dirs = {v.name: write_files(root / v.name, v.project_files()) for v in VARIANTS}
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        runs = dict(zip(dirs, pool.map(run_dbt_parse, dirs.values()), strict=True))
    total = time.monotonic() - start
    print(f"\n== dbt parse verdicts ({len(runs)} variants, {WORKERS} workers, {total:.1f} s wall)")
    for v in VARIANTS:
        run = runs[v.name]
        flag = "" if run.verdict == v.dbt else "   <-- differs from the oracle"
        print(f"  {v.name:40} dbt {run.verdict:8} (exit {run.returncode}, {run.seconds:5.1f} s){flag}")
    yield runs
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def freshlens_project_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Separate copies: freshlens must not see dbt's target/ and logs/ from the parse.
    return tmp_path_factory.mktemp("freshlens_variants")


def _ids(v: Variant) -> str:
    return v.name


def test_variant_names_are_unique() -> None:
    names = [v.name for v in VARIANTS]
    assert len(names) == len(set(names))
    for v in VARIANTS:
        assert v.stricter is None or (v.dbt == "accepts" and v.code), v.name


@pytest.mark.parametrize("variant", VARIANTS, ids=_ids)
def test_dbt_matches_oracle(variant: Variant, dbt_verdicts: dict[str, DbtRun]) -> None:
    run = dbt_verdicts[variant.name]
    assert run.verdict == variant.dbt, (
        f"dbt {run.verdict} {variant.name} (exit {run.returncode}) but the oracle ({variant.oracle}) says "
        f"it {variant.dbt} it:\n{run.problem_lines()}"
    )


@pytest.mark.parametrize("variant", VARIANTS, ids=_ids)
def test_freshlens_agrees_with_dbt(
    variant: Variant, dbt_verdicts: dict[str, DbtRun], freshlens_project_root: Path
) -> None:
    run = dbt_verdicts[variant.name]
    project = write_files(freshlens_project_root / variant.name, variant.project_files())
    rc, payload, stderr = run_freshlens(project)
    assert payload.get("version") == 1, f"freshlens check gave no JSON (exit {rc}):\n{stderr[-3000:]}"
    diags: list[dict[str, Any]] = payload["diagnostics"]
    errors = [d for d in diags if d["severity"] == "error"]
    shown = (
        "\n".join(
            f"  {d['file']}:{d['line']}:{d['column']} {d['code']} {d['severity']} {d['message']}"
            for d in diags
        )
        or "  (none)"
    )
    context = f"dbt {run.verdict} it (exit {run.returncode}); freshlens reported:\n{shown}"

    assert rc == (1 if errors else 0), f"exit code {rc} does not match the diagnostics; {context}"
    # The verdict the assertions are made against is dbt's real one; test_dbt_matches_oracle checks
    # it against the oracle separately.
    if run.verdict == "rejects":
        in_file = [d for d in errors if d["file"] == variant.bad_file]
        assert in_file, f"no error in {variant.bad_file}; {context}\ndbt said:\n{run.problem_lines()}"
        if variant.code:
            assert variant.code in {d["code"] for d in in_file}, f"expected {variant.code}; {context}"
    elif variant.stricter:
        stricter = [d for d in errors if d["file"] == variant.bad_file and d["code"] == variant.code]
        assert stricter, (
            f"{variant.stricter} makes freshlens stricter than dbt here: expected {variant.code} as an "
            f"error in {variant.bad_file}; {context}"
        )
        others = [d for d in errors if d["code"] != variant.code]
        assert not others, f"unexpected errors besides {variant.code}; {context}"
    else:
        assert not errors, f"freshlens reports an error where dbt accepts the project; {context}"
