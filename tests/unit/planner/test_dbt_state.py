"""Scenarios for the dbt State regime (spec dbt-state.md §1.5, A1 in §2.1, §2.2, §3, §4, §5.1, §7.1, §7.4)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from freshlens.planner.core import BUILD, NOOP, REUSE, UNKNOWN
from freshlens.planner.plan import choose_regime

from .helpers import PROJECT, Scenario, ago, expect

R_NONE = "No new changes on any upstreams"
R_OUT = "upstream data out of date"
SOURCES = "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: t\n      - name: u\n"
TABLE = "{{ config(materialized='table') }}\n"


def state_yml(model: str, state: str = "", freshness: str = "") -> str:
    out = f"version: 2\nmodels:\n  - name: {model}\n    config:\n"
    if state:
        out += f"      state: {{{state}}}\n"
    if freshness:
        out += f"      freshness:\n        build_after: {{{freshness}}}\n"
    return out


def table_on_t(tmp_path: Path, yml: str = "", sql: str | None = None) -> Scenario:
    """raw.t → m (a table), m built at B = 2h ago."""
    files = {
        "models/sources.yml": SOURCES,
        "models/m.sql": sql or TABLE + "select id from {{ source('raw', 't') }}",
    }
    if yml:
        files["models/m.yml"] = yml
    sc = Scenario(tmp_path, files)
    sc.built("m", ago(hours=2))
    return sc


B = ago(hours=2)


# ------------------------------------------------------------------------------ client gates


def test_r4_ephemeral_is_noop(tmp_path: Path) -> None:
    sc = Scenario(tmp_path, {"models/e.sql": "{{ config(materialized='ephemeral') }}\nselect 1"})
    d = sc.decide("e", "dbt-state")
    expect(d, NOOP, rule="STATE R4")
    assert d.confidence == "certain"


def test_r5_python_model_builds(tmp_path: Path) -> None:
    sc = Scenario(tmp_path, {"models/p.py": "def model(dbt, session):\n    return None\n"})
    sc.built("p", ago(minutes=1))
    expect(
        sc.decide("p", "dbt-state"),
        BUILD,
        "dbt State builds Python models but does not reuse them",
        "STATE R5",
    )


def test_rule7_no_prior_execution_builds(tmp_path: Path) -> None:
    sc = Scenario(tmp_path, {"models/m.sql": TABLE + "select 1", "models/o.sql": "select 2"})
    sc.built("o", ago(hours=1))  # the state exists, but m was never built
    expect(sc.decide("m", "dbt-state"), BUILD, "no prior execution", "STATE R13")


def test_rule13_no_state_at_all_is_unknown(tmp_path: Path) -> None:
    sc = table_on_t(tmp_path)
    sc.nodes.clear()
    sc.fresh("raw.t", ago(days=1))
    expect(sc.decide("m", "dbt-state"), UNKNOWN)


def test_r13_relation_missing_builds(tmp_path: Path) -> None:
    sc = table_on_t(tmp_path)
    sc.built("m", B, relation_exists=False)
    sc.fresh("raw.t", ago(days=1))
    expect(sc.decide("m", "dbt-state"), BUILD, "no prior execution", "STATE R13")


# ------------------------------------------------------------------------------ R14 / R15 code changes


def test_r14_code_change_builds_regardless_of_tolerance(tmp_path: Path) -> None:
    sc = table_on_t(tmp_path, state_yml("m", "lag_tolerance: 30d"))
    sc.built("m", ago(minutes=1), code=TABLE + "select 1")
    sc.fresh("raw.t", ago(days=1))
    expect(sc.decide("m", "dbt-state"), BUILD, "query changed", "STATE R14")


def test_r14_materialization_change_builds(tmp_path: Path) -> None:
    sc = table_on_t(tmp_path)
    sc.built("m", ago(minutes=1), materialized="incremental")
    sc.fresh("raw.t", ago(days=1))
    expect(sc.decide("m", "dbt-state"), BUILD, "query changed", "STATE R14")


def test_c1_comment_only_change_is_not_a_query_change(tmp_path: Path) -> None:
    sql = TABLE + "select id  -- the key\nfrom {{ source('raw', 't') }}"
    sc = table_on_t(tmp_path, sql=sql)
    sc.built("m", B, code=TABLE + "select id from {{ source('raw', 't') }}")
    sc.fresh("raw.t", ago(days=1))
    d = sc.decide("m", "dbt-state")
    expect(d, REUSE, R_NONE)
    assert d.code_change == "comments/whitespace only"


CHAIN = {
    "models/sources.yml": SOURCES,
    "models/a.sql": TABLE + "select id from {{ source('raw', 't') }}",
    "models/b.sql": TABLE + "select id from {{ ref('a') }}",
    "models/c.sql": TABLE + "select id from {{ ref('b') }}",
    "models/cfg.yml": (
        "version: 2\nmodels:\n"
        + "".join(f"  - name: {m}\n    config:\n      state: {{lag_tolerance: 30d}}\n" for m in "abc")
    ),
}


def test_r15_upstream_query_changed_builds_children_regardless_of_tolerance(tmp_path: Path) -> None:
    sc = Scenario(tmp_path, CHAIN)
    sc.built("a", ago(hours=3), code=TABLE + "select 1 as id")
    sc.built("b", ago(hours=2))
    sc.built("c", ago(hours=1))
    sc.fresh("raw.t", ago(days=1))
    ds = sc.plan("dbt-state")
    expect(ds["a"], BUILD, "query changed", "STATE R14")
    expect(ds["b"], BUILD, "upstream query changed", "STATE R15")
    expect(ds["c"], BUILD, "upstream query changed", "STATE R15")


def test_r15_upstream_view_definition_change_builds_the_table_below(tmp_path: Path) -> None:
    files = {
        "models/sources.yml": SOURCES,
        "models/v.sql": "select id from {{ source('raw', 't') }}",
        "models/m.sql": TABLE + "select id from {{ ref('v') }}",
    }
    sc = Scenario(tmp_path, files)
    sc.built("v", ago(hours=3), code="select id, 1 as x from {{ source('raw', 't') }}")
    sc.built("m", ago(hours=2))
    sc.fresh("raw.t", ago(days=1))
    ds = sc.plan("dbt-state")
    expect(ds["v"], BUILD, "query changed")
    expect(ds["m"], BUILD, "upstream query changed", "STATE R15")


# ------------------------------------------------------------------------------ R18 views


def test_r18_unchanged_view_reuses_even_when_upstream_data_changed(tmp_path: Path) -> None:
    sc = Scenario(
        tmp_path, {"models/sources.yml": SOURCES, "models/v.sql": "select id from {{ source('raw', 't') }}"}
    )
    sc.built("v", ago(days=2))
    sc.fresh("raw.t", ago(seconds=10))
    expect(sc.decide("v", "dbt-state"), REUSE, R_NONE, "STATE R18")


@pytest.mark.parametrize(
    "sql",
    [
        "select * from {{ source('raw', 't') }}",
        "select distinct * from {{ source('raw', 't') }}",
        "select t.* from {{ source('raw', 't') }} as t",
        "select id, t.* from {{ source('raw', 't') }} as t",
        "select id,\n  * from {{ source('raw', 't') }}",
        "with x as (select * from {{ source('raw', 't') }}) select id from x",
    ],
)
def test_r18_select_star_view_always_builds(tmp_path: Path, sql: str) -> None:
    sc = Scenario(tmp_path, {"models/sources.yml": SOURCES, "models/v.sql": sql})
    sc.built("v", ago(minutes=5))
    sc.fresh("raw.t", ago(days=1))
    expect(sc.decide("v", "dbt-state"), BUILD, rule="STATE R18")


def test_r18_select_star_only_matters_for_views(tmp_path: Path) -> None:
    sc = table_on_t(tmp_path, sql=TABLE + "select * from {{ source('raw', 't') }}")
    sc.fresh("raw.t", ago(days=1))
    expect(sc.decide("m", "dbt-state"), REUSE, R_NONE)


def test_r18_count_star_is_not_select_star(tmp_path: Path) -> None:
    sc = Scenario(
        tmp_path,
        {"models/sources.yml": SOURCES, "models/v.sql": "select count(*) as n from {{ source('raw', 't') }}"},
    )
    sc.built("v", ago(minutes=5))
    sc.fresh("raw.t", ago(days=1))
    expect(sc.decide("v", "dbt-state"), REUSE, R_NONE, "STATE R18")


def test_5_1_freshness_propagates_through_views_to_the_table(tmp_path: Path) -> None:
    files = {
        "models/sources.yml": SOURCES,
        "models/v.sql": "select id from {{ source('raw', 't') }}",
        "models/m.sql": TABLE + "select id from {{ ref('v') }}",
    }
    sc = Scenario(tmp_path, files)
    sc.built("v", ago(days=3))
    sc.built("m", B)
    sc.fresh("raw.t", B + timedelta(hours=1))  # 1h after m's build: beyond the 45m default
    ds = sc.plan("dbt-state")
    expect(ds["v"], REUSE, R_NONE, "STATE R18")
    expect(ds["m"], BUILD, R_OUT, "STATE R16")
    assert [p.unique_id for p in ds["m"].parents] == ["source.p.raw.t"]


# ------------------------------------------------------------------------------ A1 lag_tolerance


def test_a1_fresh_when_upstream_not_updated_since_build(tmp_path: Path) -> None:
    """A1: FRESH iff U ≤ B (U == B included)."""
    sc = table_on_t(tmp_path, state_yml("m", "lag_tolerance: 1h"))
    sc.fresh("raw.t", B)
    expect(sc.decide("m", "dbt-state"), REUSE, R_NONE, "STATE R16")


def test_a1_within_tolerance_reuses(tmp_path: Path) -> None:
    sc = table_on_t(tmp_path, state_yml("m", "lag_tolerance: 1h"))
    sc.fresh("raw.t", B + timedelta(minutes=30))
    d = sc.decide("m", "dbt-state")
    expect(d, REUSE, "New changes detected. Did not meet lag_tolerance of 1h", "STATE R16")
    # A1: what would rebuild it is upstream data newer than B + T (not wall-clock time passing)
    assert d.eligible_at == B + timedelta(hours=1)
    assert "builds on data newer than" in d.short


def test_a1_outdated_when_lag_beyond_tolerance_builds(tmp_path: Path) -> None:
    sc = table_on_t(tmp_path, state_yml("m", "lag_tolerance: 1h"))
    sc.fresh("raw.t", B + timedelta(hours=1, seconds=1))
    expect(sc.decide("m", "dbt-state"), BUILD, R_OUT, "STATE R16")


def test_a1_boundary_lag_equal_to_tolerance_is_within_and_reuses(tmp_path: Path) -> None:
    """A1 guess: OUTDATED iff U − B > T (strict), so U − B == T is still within tolerance."""
    sc = table_on_t(tmp_path, state_yml("m", "lag_tolerance: 1h"))
    sc.fresh("raw.t", B + timedelta(hours=1))
    expect(sc.decide("m", "dbt-state"), REUSE, "New changes detected. Did not meet lag_tolerance of 1h")


def test_a1_measures_lag_from_build_not_from_now(tmp_path: Path) -> None:
    """E3/A1: data 10 min after the build is within 1h even if the build was days ago."""
    sc = table_on_t(tmp_path, state_yml("m", "lag_tolerance: 1h"))
    sc.built("m", ago(days=5))
    sc.fresh("raw.t", ago(days=5) + timedelta(minutes=10))
    expect(sc.decide("m", "dbt-state"), REUSE, "New changes detected. Did not meet lag_tolerance of 1h")


def test_lag_tolerance_count_period_form(tmp_path: Path) -> None:
    sc = table_on_t(tmp_path, state_yml("m", "lag_tolerance: {count: 2, period: hour}"))
    sc.fresh("raw.t", B + timedelta(minutes=90))
    d = sc.decide("m", "dbt-state")
    expect(d, REUSE, "New changes detected. Did not meet lag_tolerance of 2h")
    assert d.window == 7200


@pytest.mark.parametrize(("lag_min", "action"), [(44, REUSE), (45, REUSE), (46, BUILD)])
def test_2_2_default_tolerance_is_45m(tmp_path: Path, lag_min: int, action: str) -> None:
    sc = table_on_t(tmp_path)
    sc.fresh("raw.t", B + timedelta(minutes=lag_min))
    d = sc.decide("m", "dbt-state")
    expect(d, action, rule="STATE R16")
    assert d.window == 45 * 60


def test_7_1_falls_back_to_build_after(tmp_path: Path) -> None:
    sc = table_on_t(tmp_path, state_yml("m", freshness="count: 4, period: hour"))
    sc.fresh("raw.t", B + timedelta(hours=2))
    d = sc.decide("m", "dbt-state")
    expect(d, REUSE, "New changes detected. Did not meet lag_tolerance of 4h")
    assert d.window == 4 * 3600


def test_7_1_lag_tolerance_wins_over_build_after(tmp_path: Path) -> None:
    sc = table_on_t(tmp_path, state_yml("m", "lag_tolerance: 30m", "count: 4, period: hour"))
    sc.fresh("raw.t", B + timedelta(hours=1))
    expect(sc.decide("m", "dbt-state"), BUILD, R_OUT)


def test_7_1_per_key_policy_from_state_tolerance_from_build_after(tmp_path: Path) -> None:
    """require_fresh_data_from set, lag_tolerance not: T still falls back to build_after (per key)."""
    sc = table_on_t(tmp_path, state_yml("m", "require_fresh_data_from: all", "count: 4, period: hour"))
    sc.fresh("raw.t", B + timedelta(hours=2))
    d = sc.decide("m", "dbt-state")
    expect(d, REUSE)
    assert d.window == 4 * 3600
    assert "policy: all" in " ".join(d.notes)


def test_7_1_per_key_tolerance_from_state_policy_from_updates_on(tmp_path: Path) -> None:
    sc = table_on_t(tmp_path, state_yml("m", "lag_tolerance: 1h", "updates_on: all"))
    sc.fresh("raw.t", B + timedelta(hours=2))
    d = sc.decide("m", "dbt-state")
    expect(d, BUILD, R_OUT)  # one parent: all ≡ any
    assert d.window == 3600
    assert "policy: all" in " ".join(d.notes)


def test_7_1_updates_on_alone_keeps_the_45m_default(tmp_path: Path) -> None:
    sc = table_on_t(tmp_path, state_yml("m", freshness="updates_on: all"))
    sc.fresh("raw.t", B + timedelta(minutes=30))
    d = sc.decide("m", "dbt-state")
    expect(d, REUSE)
    assert d.window == 45 * 60


def test_2_2_build_after_count_zero_gives_zero_tolerance(tmp_path: Path) -> None:
    """§2.2/§7.1: build_after count×period is used when both are set, so count 0 → T = 0 (not the 45m default)."""
    sc = table_on_t(tmp_path, state_yml("m", freshness="count: 0, period: hour"))
    sc.fresh("raw.t", B + timedelta(minutes=1))
    d = sc.decide("m", "dbt-state")
    expect(d, BUILD, R_OUT)
    assert d.window == 0


def test_lag_tolerance_zero_rebuilds_on_any_upstream_change(tmp_path: Path) -> None:
    sc = table_on_t(tmp_path, state_yml("m", "lag_tolerance: 0m"))
    sc.fresh("raw.t", B + timedelta(seconds=1))
    expect(sc.decide("m", "dbt-state"), BUILD, R_OUT)


# ------------------------------------------------------------------------------ §3 policy


def two_leaves(tmp_path: Path, policy: str) -> Scenario:
    files = {
        "models/sources.yml": SOURCES,
        "models/m.sql": TABLE
        + "select id from {{ source('raw', 't') }} join {{ source('raw', 'u') }} using (id)",
        "models/m.yml": state_yml("m", f"lag_tolerance: 1h, require_fresh_data_from: {policy}"),
    }
    sc = Scenario(tmp_path, files)
    sc.built("m", B)
    return sc


def test_3_any_one_outdated_leaf_builds(tmp_path: Path) -> None:
    sc = two_leaves(tmp_path, "any")
    sc.fresh("raw.t", B + timedelta(hours=2))
    sc.fresh("raw.u", B - timedelta(hours=1))
    expect(sc.decide("m", "dbt-state"), BUILD, R_OUT)


def test_3_all_one_outdated_one_fresh_reuses(tmp_path: Path) -> None:
    sc = two_leaves(tmp_path, "all")
    sc.fresh("raw.t", B + timedelta(hours=2))
    sc.fresh("raw.u", B - timedelta(hours=1))
    expect(sc.decide("m", "dbt-state"), REUSE)


def test_3_all_every_leaf_outdated_builds(tmp_path: Path) -> None:
    sc = two_leaves(tmp_path, "all")
    sc.fresh("raw.t", B + timedelta(hours=2))
    sc.fresh("raw.u", B + timedelta(hours=1, minutes=1))
    expect(sc.decide("m", "dbt-state"), BUILD, R_OUT)


# ------------------------------------------------------------------------------ §7.4 unknown upstream time


def test_7_4_unknown_upstream_time_counts_as_now_and_builds_when_beyond_tolerance(tmp_path: Path) -> None:
    sc = table_on_t(tmp_path, state_yml("m", "lag_tolerance: 1h"))  # B = 2h ago: now − B > T
    sc.freshness_origin = ""
    d = sc.decide("m", "dbt-state")
    expect(d, BUILD, R_OUT, "STATE R16")
    assert any("§7.4" in n for n in d.notes)


def test_7_4_unknown_upstream_time_within_tolerance_is_unknown_not_a_confident_reuse(tmp_path: Path) -> None:
    sc = table_on_t(tmp_path, state_yml("m", "lag_tolerance: 4h"))  # now − B = 2h ≤ T
    sc.freshness_origin = ""
    d = sc.decide("m", "dbt-state")
    expect(d, UNKNOWN)
    assert d.missing


def test_7_4_d6_source_time_unknown_is_never_a_confident_reuse(tmp_path: Path) -> None:
    sc = table_on_t(tmp_path, state_yml("m", "lag_tolerance: 4h"))
    sc.always_new("raw.t")
    assert sc.decide("m", "dbt-state").action != REUSE


def test_parent_table_building_this_run_is_new_data_now(tmp_path: Path) -> None:
    sc = Scenario(tmp_path, {k: v for k, v in CHAIN.items() if k != "models/cfg.yml"})
    sc.built("a", ago(hours=3))
    sc.built("b", ago(hours=2))
    sc.built("c", ago(hours=1))
    sc.fresh("raw.t", ago(hours=3) + timedelta(hours=1))  # 1h after a's build: beyond 45m
    ds = sc.plan("dbt-state")
    expect(ds["a"], BUILD, R_OUT)
    expect(ds["b"], BUILD, R_OUT)  # a rebuilt now: 2h after b's build
    expect(ds["c"], BUILD, R_OUT)


# ------------------------------------------------------------------------------ choose_regime


@pytest.mark.parametrize(
    ("files", "project_yml", "want"),
    [
        ({"models/m.sql": "select 1"}, PROJECT, "sao"),
        (
            {"models/m.sql": "select 1", "models/m.yml": state_yml("m", "lag_tolerance: 1h")},
            PROJECT,
            "dbt-state",
        ),
        ({"models/m.sql": "{{ config(state={'lag_tolerance': '1h'}) }}\nselect 1"}, PROJECT, "dbt-state"),
        (
            {"models/m.sql": "select 1"},
            PROJECT + "models:\n  p:\n    +state:\n      lag_tolerance: 1h\n",
            "dbt-state",
        ),
        (
            {"models/m.sql": "select 1", "models/m.yml": state_yml("m", freshness="count: 1, period: hour")},
            PROJECT,
            "sao",
        ),
    ],
)
def test_choose_regime_auto(tmp_path: Path, files: dict[str, str], project_yml: str, want: str) -> None:
    sc = Scenario(tmp_path, files, project_yml)
    assert choose_regime(sc.index, "auto") == want


def test_choose_regime_explicit_setting_wins(tmp_path: Path) -> None:
    sc = Scenario(tmp_path, {"models/m.sql": "select 1", "models/m.yml": state_yml("m", "lag_tolerance: 1h")})
    assert choose_regime(sc.index, "sao") == "sao"
    assert (
        choose_regime(Scenario(tmp_path / "x", {"models/m.sql": "select 1"}).index, "dbt-state")
        == "dbt-state"
    )
