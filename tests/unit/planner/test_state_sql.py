"""dbt State rules that read the SQL's structure (spec dbt-state.md, Amendments of 2026-12): R18/§5.1
`select *` scopes in views, §7.2 custom materializations, R15 descendants of a changed model with
column lineage, §3 reasons under `require_fresh_data_from: all`, and §4 C1 semantic comparison of code
(with SAO's own rule, sao.md Q1/D4)."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from freshlens.index import ProjectIndex
from freshlens.planner.core import BUILD, REUSE
from freshlens.planner.gather import PlanOptions, recorded_code, run_plan
from freshlens.state import StateStore
from freshlens.workspace import Workspace

from .helpers import NOW, Scenario, ago, expect

R_NONE = "No new changes on any upstreams"
SOURCES = "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: t\n      - name: u\n"
TABLE = "{{ config(materialized='table') }}\n"
B = ago(hours=2)


def view(tmp_path: Path, sql: str) -> Scenario:
    sc = Scenario(
        tmp_path,
        {"models/sources.yml": SOURCES, "models/m.sql": TABLE + "select 1 as id", "models/v.sql": sql},
    )
    sc.built("m", B)
    sc.built("v", B)
    sc.fresh("raw.t", ago(minutes=1))
    return sc


# ------------------------------------------------------------------------------ R18 / §5.1 select * scopes


@pytest.mark.parametrize(
    "sql",
    [
        "with a as (select id, x from {{ ref('m') }}) select * from a",
        "select s.* from (select id from {{ ref('m') }}) as s",
        "with a as (select id from {{ source('raw', 't') }}), b as (select a.* from a) select * from b",
    ],
)
def test_r18_select_star_over_a_cte_is_reused(tmp_path: Path, sql: str) -> None:
    d = view(tmp_path, sql).decide("v", "dbt-state")
    expect(d, REUSE, R_NONE, "STATE R18")
    assert any("CTE or subquery" in n for n in d.notes)


def test_r18_staging_pattern_still_rebuilds_and_names_the_relation(tmp_path: Path) -> None:
    sql = (
        "with source as (select * from {{ source('raw', 't') }}),\n"
        "renamed as (select id as order_id from source)\nselect * from renamed"
    )
    d = view(tmp_path, sql).decide("v", "dbt-state")
    expect(d, BUILD, "views with select * are always rebuilt", "STATE R18")
    assert d.short == "view with * from source('raw', 't'): always rebuilt"
    assert d.confidence == "likely"


def test_r18_star_straight_from_a_ref_rebuilds(tmp_path: Path) -> None:
    d = view(tmp_path, "select m.* from {{ ref('m') }} as m").decide("v", "dbt-state")
    expect(d, BUILD, rule="STATE R18")
    assert "ref('m')" in d.short


def test_r18_unparseable_view_with_a_star_rebuilds_with_low_confidence(tmp_path: Path) -> None:
    sql = (
        "{% for c in ['a', 'b'] %} select * from {{ ref('m') }} {% if not loop.last %} union all {% endif %}"
    )
    d = view(tmp_path, sql + " union").decide("v", "dbt-state")
    expect(d, BUILD, "views with select * are always rebuilt", "STATE R18")
    assert d.confidence == "uncertain"
    assert any("could not be parsed" in n for n in d.notes)


def test_r18_unparseable_view_without_any_star_is_judged_as_usual(tmp_path: Path) -> None:
    d = view(tmp_path, "select id from {{ ref('m') }} where {% if x %} union").decide("v", "dbt-state")
    expect(d, REUSE, R_NONE, "STATE R18")


def test_r18_flattened_jinja_star_from_a_relation_is_uncertain(tmp_path: Path) -> None:
    sql = "select * from {% if target.name == 'prod' %}{{ ref('m') }}{% else %}{{ ref('m') }}{% endif %}"
    d = view(tmp_path, sql).decide("v", "dbt-state")
    expect(d, BUILD, rule="STATE R18")
    assert d.confidence == "uncertain"


# ------------------------------------------------------------------------------ §7.2 custom materializations


def custom(tmp_path: Path, mat: str, adapter: str | None) -> Scenario:
    sc = Scenario(
        tmp_path,
        {
            "models/sources.yml": SOURCES,
            "models/m.sql": f"{{{{ config(materialized='{mat}') }}}}\nselect id from {{{{ source('raw', 't') }}}}",
        },
    )
    sc.index.adapter_type = adapter
    sc.built("m", ago(minutes=10))
    sc.fresh("raw.t", ago(days=1))  # no new data, no code change: only the materialization can build it
    return sc


def test_7_2_custom_materialization_always_builds(tmp_path: Path) -> None:
    d = custom(tmp_path, "insert_by_period", "duckdb").decide("m", "dbt-state")
    expect(d, BUILD, "dbt State builds models with custom materializations on every run", "STATE 7.2")
    assert d.confidence == "likely"
    assert d.short == "custom materialization `insert_by_period`: always built"


@pytest.mark.parametrize(
    ("mat", "adapter"), [("external", "duckdb"), ("dynamic_table", "snowflake"), ("table", None)]
)
def test_7_2_builtin_and_adapter_materializations_can_be_reused(
    tmp_path: Path, mat: str, adapter: str | None
) -> None:
    expect(custom(tmp_path, mat, adapter).decide("m", "dbt-state"), REUSE, R_NONE)


def test_7_2_another_adapters_materialization_is_custom_here(tmp_path: Path) -> None:
    expect(custom(tmp_path, "dynamic_table", "duckdb").decide("m", "dbt-state"), BUILD, rule="STATE 7.2")


def test_7_2_unknown_adapter_any_adapters_own_is_not_custom(tmp_path: Path) -> None:
    expect(custom(tmp_path, "external", None).decide("m", "dbt-state"), REUSE, R_NONE)


def test_7_2_unknown_adapter_builds_but_says_it_is_unsure(tmp_path: Path) -> None:
    d = custom(tmp_path, "my_mat", "materialize").decide("m", "dbt-state")
    expect(d, BUILD, rule="STATE 7.2")
    assert d.confidence == "uncertain"
    assert any("materialize adapter" in n for n in d.notes)


# ------------------------------------------------------------------------------ R15 descendants, column lineage

PARENT = TABLE + "select id, amount, status from {{ source('raw', 't') }} where amount > 0"


def chain(tmp_path: Path, parent_now: str, child: str, keep_code: bool = True) -> Scenario:
    sc = Scenario(
        tmp_path,
        {"models/sources.yml": SOURCES, "models/p.sql": parent_now, "models/c.sql": TABLE + child},
    )
    sc.built("p", B, code=PARENT, keep_code=keep_code)
    sc.built("c", B)
    sc.fresh("raw.t", B - timedelta(hours=1))
    return sc


def note(sc: Scenario) -> str:
    d = sc.decide("c", "dbt-state")
    expect(d, BUILD, "upstream query changed", "STATE R15")  # the docs' rule decides; the note explains
    (text,) = [n for n in d.notes if "dbt State" in n]
    return text


def test_r15_added_column_the_child_does_not_read_may_reuse(tmp_path: Path) -> None:
    now = PARENT.replace("status from", "status, 1 as extra from")
    text = note(chain(tmp_path, now, "select id, status from {{ ref('p') }}"))
    assert text.startswith(
        "dbt State may reuse c: p's change touches `extra`, and c reads only `id`, `status`"
    )
    assert "likely, not certain" in text


def test_r15_changed_column_the_child_does_not_read_may_reuse(tmp_path: Path) -> None:
    now = PARENT.replace("status from", "upper(status) as status from")
    text = note(chain(tmp_path, now, "select p.id, p.amount from {{ ref('p') }} as p"))
    assert text.startswith("dbt State may reuse c: p's change touches `status`")


def test_r15_changed_column_the_child_reads_rebuilds(tmp_path: Path) -> None:
    now = PARENT.replace("status from", "upper(status) as status from")
    text = note(chain(tmp_path, now, "with x as (select id, status from {{ ref('p') }}) select * from x"))
    assert text == "c reads `status` of p, which changed: dbt State rebuilds it too."


def test_r15_a_filter_change_touches_every_column(tmp_path: Path) -> None:
    text = note(chain(tmp_path, PARENT.replace("amount > 0", "amount > 5"), "select id from {{ ref('p') }}"))
    assert text.startswith("p's change alters which rows it returns")


def test_r15_child_selecting_star_reads_added_columns(tmp_path: Path) -> None:
    now = PARENT.replace("status from", "status, 1 as extra from")
    text = note(chain(tmp_path, now, "select * from {{ ref('p') }}"))
    assert text.startswith("c selects * from p")


def test_r15_without_the_parents_last_built_sql_it_says_it_cannot_tell(tmp_path: Path) -> None:
    now = PARENT.replace("status from", "status, 1 as extra from")
    text = note(chain(tmp_path, now, "select id from {{ ref('p') }}", keep_code=False))
    assert "cannot tell" in text and "no copy of the SQL p was last built from" in text


def test_r15_grandchild_is_not_analysed_across_two_models(tmp_path: Path) -> None:
    sc = Scenario(
        tmp_path,
        {
            "models/sources.yml": SOURCES,
            "models/p.sql": PARENT.replace("amount > 0", "amount > 5"),
            "models/c.sql": TABLE + "select id from {{ ref('p') }}",
            "models/g.sql": TABLE + "select id from {{ ref('c') }}",
        },
    )
    for m in ("p", "c", "g"):
        sc.built(m, B, code=PARENT if m == "p" else None)
    d = sc.decide("g", "dbt-state")
    expect(d, BUILD, "upstream query changed", "STATE R15")
    assert any("follows columns only for an edit of c's SQL" in n for n in d.notes)


# ------------------------------------------------------------------------------ §3 reasons under `all`


def test_3_all_reused_because_not_every_upstream_is_outdated_says_so(tmp_path: Path) -> None:
    files = {
        "models/sources.yml": SOURCES,
        "models/m.sql": TABLE
        + "select id from {{ source('raw', 't') }} join {{ source('raw', 'u') }} using (id)",
        "models/m.yml": "version: 2\nmodels:\n  - name: m\n    config:\n      state: {lag_tolerance: 1h, require_fresh_data_from: all}\n",
    }
    sc = Scenario(tmp_path, files)
    sc.built("m", B)
    sc.fresh("raw.t", B + timedelta(hours=2))  # outdated
    sc.fresh("raw.u", B + timedelta(minutes=10))  # within tolerance
    d = sc.decide("m", "dbt-state")
    expect(d, REUSE, "New changes detected. Did not meet lag_tolerance of 1h", "STATE R16")
    assert d.short == "waiting for raw.u: 1 of 2 upstreams outdated"
    assert "lag_tolerance 1h not met" not in d.short


# ------------------------------------------------------------------------------ §4 C1 semantic comparison

OLD_SQL = TABLE + "select o.id, o.amount from {{ source('raw', 't') }} as o where o.amount > 0"


def edited(tmp_path: Path, now: str, keep_code: bool = True) -> Scenario:
    sc = Scenario(tmp_path, {"models/sources.yml": SOURCES, "models/m.sql": now})
    sc.built("m", B, code=OLD_SQL, keep_code=keep_code, saw={"raw.t": B - timedelta(hours=1)})
    sc.fresh("raw.t", B - timedelta(hours=1))
    return sc


ALIAS_ONLY = TABLE + "select src.id, src.amount from {{ source('raw', 't') }} as src where src.amount > 0"
LAYOUT_ONLY = TABLE + "SELECT o.id,\n       o.amount\nFROM {{ source('raw', 't') }} AS o\nWHERE o.amount > 0"


@pytest.mark.parametrize("now", [ALIAS_ONLY, LAYOUT_ONLY])
def test_c1_formatting_and_alias_edits_are_not_a_query_change(tmp_path: Path, now: str) -> None:
    d = edited(tmp_path, now).decide("m", "dbt-state")
    expect(d, REUSE, R_NONE, "STATE R16")
    assert d.code_change.startswith("formatting only (same SQL structure")


def test_c1_a_real_edit_still_builds(tmp_path: Path) -> None:
    d = edited(tmp_path, OLD_SQL.replace("> 0", "> 1")).decide("m", "dbt-state")
    expect(d, BUILD, "query changed", "STATE R14")


def test_c1_without_the_last_built_code_a_formatting_edit_builds_and_says_why(tmp_path: Path) -> None:
    d = edited(tmp_path, LAYOUT_ONLY, keep_code=False).decide("m", "dbt-state")
    expect(d, BUILD, "query changed", "STATE R14")
    assert any("cannot be told apart" in n for n in d.notes)


def test_sao_q1_formatting_only_edit_is_uncertain_not_a_confident_build(tmp_path: Path) -> None:
    d = edited(tmp_path, LAYOUT_ONLY).decide("m", "sao")
    expect(d, REUSE)
    assert d.confidence == "uncertain"
    assert d.code_change == "formatting only (same SQL structure: layout, case or comments)"


def test_sao_d4_a_table_alias_rename_is_a_code_change(tmp_path: Path) -> None:
    """SAO's docs name whitespace and comments only; dbt State also ignores table aliases (C1)."""
    d = edited(tmp_path, ALIAS_ONLY).decide("m", "sao")
    expect(d, BUILD)
    assert d.code_change == "SQL body"


# ------------------------------------------------------------------------------ with real dbt artifacts

ART = Path(__file__).resolve().parents[2] / "fixtures" / "artifacts"


def _tiny_project(root: Path) -> tuple[ProjectIndex, dict[str, str]]:
    """fixtures/artifacts/tiny_project copied to ``root``, indexed, with its files' texts."""
    shutil.copytree(ART / "tiny_project", root, dirs_exist_ok=True)
    ws = Workspace([str(root)])
    ws.load()
    (proj,) = ws.projects.values()
    assert proj.index is not None
    texts = {n.path: Path(n.path).read_text(encoding="utf-8") for n in proj.index.nodes.values() if n.path}
    return proj.index, texts


def test_r15_real_run_added_column_is_explained_from_the_runs_manifest(tmp_path: Path) -> None:
    """Run 1's manifest.json holds the SQL stg_orders was built from; the project now adds `status`,
    which customer_orders does not read (fixtures/artifacts README)."""
    index, texts = _tiny_project(tmp_path)
    opts = PlanOptions(state=str(ART / "run1"), regime="dbt-state", at=NOW)
    res = run_plan(index, opts, texts)
    assert res.problems == []
    by_name = {d.name: d for d in res.decisions.values()}
    expect(by_name["stg_orders"], BUILD, "query changed", "STATE R14")
    child = by_name["customer_orders"]
    expect(child, BUILD, "upstream query changed", "STATE R15")
    assert any(
        n.startswith("dbt State may reuse customer_orders: stg_orders's change touches `status`")
        for n in child.notes
    ), child.notes


def test_only_a_plan_kept_to_the_end_of_its_process_is_frozen_out_of_the_cycle_collector(
    tmp_path: Path,
) -> None:
    """``freshlens run`` and the CLI keep their plan until they exit and freeze it (the collector's
    first pass over it cost ~40 ms at 10,000 models); the language server plans again and again and
    must not: what it froze would never be collected."""
    import gc

    index, texts = _tiny_project(tmp_path)
    opts = PlanOptions(state=str(ART / "run1"), regime="dbt-state", at=NOW)
    gc.unfreeze()
    try:
        run_plan(index, opts, texts)
        assert gc.get_freeze_count() == 0 and gc.isenabled()
        kept = run_plan(index, opts, texts, kept=True)
        assert gc.get_freeze_count() > 0 and gc.isenabled()
        assert kept.decisions
    finally:
        gc.unfreeze()


def test_recorded_code_keeps_only_the_code_of_the_last_build(tmp_path: Path) -> None:
    sc = edited(tmp_path, LAYOUT_ONLY)
    uid = sc.uid("m")
    old = OLD_SQL.strip()
    assert recorded_code(sc.state(), {uid: old}) == {uid: old}
    assert recorded_code(sc.state(), {uid: LAYOUT_ONLY.strip()}) == {}  # another run's code: not this build's


def test_an_unreadable_manifest_of_the_last_run_is_reported_not_skipped(tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(ART / "run1", run)
    store_path = tmp_path / "state.db"
    with StateStore(store_path) as store:
        store.ingest(run)
    (run / "manifest.json").write_text("{ truncated", encoding="utf-8")  # overwritten since the ingest
    project = tmp_path / "project"
    shutil.copytree(ART / "tiny_project", project)
    ws = Workspace([str(project)])
    ws.load()
    (proj,) = ws.projects.values()
    assert proj.index is not None
    texts = {n.path: Path(n.path).read_text(encoding="utf-8") for n in proj.index.nodes.values() if n.path}
    res = run_plan(proj.index, PlanOptions(state=str(store_path), regime="dbt-state", at=NOW), texts)
    assert len(res.problems) == 1
    assert "manifest.json is not valid JSON" in res.problems[0]
    assert "only needed to compare code changes by SQL structure" in res.problems[0]
    expect(res.decisions["model.tiny.stg_orders"], BUILD, "query changed", "STATE R14")


@pytest.mark.parametrize("regime", ["dbt-state", "sao"])
@pytest.mark.parametrize(
    "config",
    ["{{ config(materialized='view') }}\n", "{{ config(materialized='table', unique_key='id') }}\n"],
)
def test_c2_c3_a_config_call_edit_is_not_formatting(tmp_path: Path, regime: str, config: str) -> None:
    """The SQL parses the same once config() is taken out, but the edit still counts (C2 execution type,
    C3 semantic extras such as unique_key)."""
    d = edited(tmp_path, OLD_SQL.replace(TABLE, config)).decide("m", regime)
    expect(d, BUILD)
    assert d.code_change == "SQL body"


def test_c2_a_materialization_change_in_yaml_is_seen_behind_a_comment_only_edit(tmp_path: Path) -> None:
    sql = "select o.id, o.amount -- the amount\nfrom {{ source('raw', 't') }} as o where o.amount > 0"
    sc = Scenario(
        tmp_path,
        {
            "models/sources.yml": SOURCES,
            "models/m.sql": sql,
            "models/m.yml": "version: 2\nmodels:\n  - name: m\n    config:\n      materialized: table\n",
        },
    )
    sc.built("m", B, code=sql.replace(" -- the amount", ""), materialized="view")
    sc.fresh("raw.t", B - timedelta(hours=1))
    d = sc.decide("m", "dbt-state")
    expect(d, BUILD, "query changed", "STATE R14")
    assert d.code_change == "materialization (view → table)"
