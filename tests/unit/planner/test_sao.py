"""Scenarios for the SAO regime (spec sao.md §1.5, reason strings §2 R1–R4, open questions Q1–Q4)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from freshlens.planner.core import BUILD, NOOP, REUSE, UNKNOWN

from .helpers import NOW, Scenario, ago, expect

R1 = "New changes detected"
R2 = "No new changes on any upstreams"
R4 = "No new changes on all upstreams"

SOURCES = "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: t\n      - name: u\n"


def fresh_yml(
    model: str, count: int | None = None, period: str = "hour", updates_on: str | None = None
) -> str:
    ba = []
    if count is not None:
        ba += [f"count: {count}", f"period: {period}"]
    if updates_on:
        ba.append(f"updates_on: {updates_on}")
    return (
        f"version: 2\nmodels:\n  - name: {model}\n    config:\n      freshness:\n"
        f"        build_after: {{{', '.join(ba)}}}\n"
    )


def one_model(tmp_path: Path, extra: dict[str, str] | None = None, sql: str | None = None) -> Scenario:
    """raw.t → m (a table)."""
    files = {
        "models/sources.yml": SOURCES,
        "models/m.sql": sql or "{{ config(materialized='table') }}\nselect * from {{ source('raw', 't') }}",
        **(extra or {}),
    }
    return Scenario(tmp_path, files)


def unchanged(sc: Scenario, built: timedelta = timedelta(hours=2)) -> Scenario:
    """m built ``built`` ago from today's code, having seen raw.t loaded 3h ago; raw.t unchanged since."""
    sc.built("m", NOW - built, saw={"raw.t": ago(hours=3)})
    sc.fresh("raw.t", ago(hours=3))
    return sc


# ------------------------------------------------------------------------------ rules 2–5 (gates)


def test_d11_python_model_always_builds(tmp_path: Path) -> None:
    sc = Scenario(tmp_path, {"models/p.py": "def model(dbt, session):\n    return None\n"})
    sc.built("p", ago(minutes=5))
    d = sc.decide("p")
    expect(d, BUILD, rule="SAO D11")
    assert d.confidence == "certain"


def test_d17_ephemeral_is_noop(tmp_path: Path) -> None:
    sc = Scenario(tmp_path, {"models/e.sql": "{{ config(materialized='ephemeral') }}\nselect 1"})
    expect(sc.decide("e"), NOOP, rule="SAO D17")


def test_rule4_never_built_in_this_environment_builds(tmp_path: Path) -> None:
    sc = one_model(tmp_path, {"models/other.sql": "select 1"})
    sc.built("other", ago(hours=1))  # the state exists, but m is not in it
    sc.fresh("raw.t", ago(hours=3))
    expect(sc.decide("m"), BUILD, R1, "SAO 1.5.4")


def test_rule4_no_state_at_all_is_unknown_not_a_guess(tmp_path: Path) -> None:
    sc = one_model(tmp_path)
    sc.fresh("raw.t", ago(hours=3))
    d = sc.decide("m")
    expect(d, UNKNOWN, rule="SAO 1.5.4")
    assert d.missing


def test_d15_cache_cleared_builds(tmp_path: Path) -> None:
    sc = one_model(tmp_path)
    sc.built("m", None)  # known, but its build was forgotten by the clear
    sc.cleared_at = ago(minutes=30)
    sc.fresh("raw.t", ago(hours=3))
    expect(sc.decide("m"), BUILD, R1, "SAO D15")


def test_d12_relation_missing_builds_even_without_changes(tmp_path: Path) -> None:
    sc = unchanged(one_model(tmp_path))
    sc.built("m", ago(hours=2), saw={"raw.t": ago(hours=3)}, relation_exists=False)
    expect(sc.decide("m"), BUILD, R1, "SAO D12")


def test_d13_failed_data_test_builds(tmp_path: Path) -> None:
    sc = unchanged(one_model(tmp_path))
    sc.built("m", ago(hours=2), saw={"raw.t": ago(hours=3)}, failed_tests=("test.p.not_null_m_id.abc",))
    d = sc.decide("m")
    expect(d, BUILD, R1, "SAO D13")
    assert "not_null_m_id" in d.short


# ------------------------------------------------------------------------------ rules 6–9


def test_r2_nothing_changed_reuses(tmp_path: Path) -> None:
    expect(unchanged(one_model(tmp_path)).decide("m"), REUSE, R2, "SAO 1.5.7")


def test_r1_code_change_builds(tmp_path: Path) -> None:
    sc = one_model(tmp_path)
    sc.built("m", ago(hours=2), code="select 1", saw={"raw.t": ago(hours=3)})
    sc.fresh("raw.t", ago(hours=3))
    d = sc.decide("m")
    expect(d, BUILD, R1, "SAO 1.5.9")
    assert d.code_change == "SQL body"


def test_d4_materialization_change_is_a_code_change(tmp_path: Path) -> None:
    sc = one_model(tmp_path)
    sc.built("m", ago(hours=2), materialized="view", saw={"raw.t": ago(hours=3)})
    sc.fresh("raw.t", ago(hours=3))
    d = sc.decide("m")
    expect(d, BUILD, R1, "SAO 1.5.9")
    assert "materialization" in d.code_change


def test_d5_new_source_data_builds(tmp_path: Path) -> None:
    sc = one_model(tmp_path)
    sc.built("m", ago(hours=2), saw={"raw.t": ago(hours=3)})
    sc.fresh("raw.t", ago(minutes=10))
    expect(sc.decide("m"), BUILD, R1, "SAO 1.5.9")


def test_q1_comment_or_whitespace_only_edit_is_not_a_change_but_uncertain(tmp_path: Path) -> None:
    sql = "{{ config(materialized='table') }}\nselect *  -- all columns\n  from {{ source('raw', 't') }}"
    sc = one_model(tmp_path, sql=sql)
    old = "{{ config(materialized='table') }}\nselect * from {{ source('raw', 't') }}"
    sc.built("m", ago(hours=2), code=old, saw={"raw.t": ago(hours=3)})
    sc.fresh("raw.t", ago(hours=3))
    d = sc.decide("m")
    expect(d, REUSE, R2)
    assert d.confidence == "uncertain"
    assert d.code_change == "comments/whitespace only"


def test_q8_model_without_parents_reuses_when_unchanged(tmp_path: Path) -> None:
    sc = Scenario(tmp_path, {"models/c.sql": "{{ config(materialized='table') }}\nselect 1 as x"})
    sc.built("c", ago(days=3))
    d = sc.decide("c")
    expect(d, REUSE, R2)
    assert d.parents == []


# ------------------------------------------------------------------------------ D9: build_after


def test_d9_r3_new_data_inside_build_after_window_reuses_with_exact_reason(tmp_path: Path) -> None:
    sc = one_model(tmp_path, {"models/m.yml": fresh_yml("m", 4, "hour")})
    sc.built("m", ago(hours=1), saw={"raw.t": ago(hours=3)})
    sc.fresh("raw.t", ago(minutes=10))
    d = sc.decide("m")
    expect(d, REUSE, "New changes detected. Did not meet build_after of 4h. Last updated 1h ago", "SAO D9")
    assert d.eligible_at == ago(hours=1) + timedelta(hours=4)
    assert d.window == 4 * 3600


def test_d9_r3_reason_uses_humantime_for_odd_durations(tmp_path: Path) -> None:
    sc = one_model(tmp_path, {"models/m.yml": fresh_yml("m", 90, "minute")})
    sc.built("m", ago(minutes=42, seconds=20), saw={"raw.t": ago(hours=3)})
    sc.fresh("raw.t", ago(minutes=10))
    d = sc.decide("m")
    expect(d, REUSE, "New changes detected. Did not meet build_after of 1h 30m. Last updated 42m 20s ago")


def test_d9_code_change_is_also_gated_by_build_after_in_sao(tmp_path: Path) -> None:
    sc = one_model(tmp_path, {"models/m.yml": fresh_yml("m", 4, "hour")})
    sc.built("m", ago(hours=1), code="select 1", saw={"raw.t": ago(hours=3)})
    sc.fresh("raw.t", ago(hours=3))
    d = sc.decide("m")
    expect(d, REUSE, "New changes detected. Did not meet build_after of 4h. Last updated 1h ago", "SAO D9")
    assert d.code_change == "SQL body"


def test_d9_window_elapsed_builds(tmp_path: Path) -> None:
    sc = one_model(tmp_path, {"models/m.yml": fresh_yml("m", 4, "hour")})
    sc.built("m", ago(hours=5), saw={"raw.t": ago(hours=6)})
    sc.fresh("raw.t", ago(hours=1))
    expect(sc.decide("m"), BUILD, R1, "SAO 1.5.9")


def test_q3_elapsed_exactly_equal_to_window_builds(tmp_path: Path) -> None:
    """Q3 guess: reuse while elapsed < window (strict), so elapsed == window builds."""
    sc = one_model(tmp_path, {"models/m.yml": fresh_yml("m", 4, "hour")})
    sc.built("m", ago(hours=4), saw={"raw.t": ago(hours=6)})
    sc.fresh("raw.t", ago(hours=1))
    expect(sc.decide("m"), BUILD, R1)
    expect(sc.decide("m", at=NOW - timedelta(seconds=1)), REUSE, rule="SAO D9")


def test_d9_count_zero_gives_no_gate(tmp_path: Path) -> None:
    sc = one_model(tmp_path, {"models/m.yml": fresh_yml("m", 0, "hour")})
    sc.built("m", ago(minutes=1), saw={"raw.t": ago(hours=3)})
    sc.fresh("raw.t", ago(seconds=30))
    expect(sc.decide("m"), BUILD, R1, "SAO 1.5.9")


def test_d9_updates_on_only_gives_no_gate(tmp_path: Path) -> None:
    sc = one_model(tmp_path, {"models/m.yml": fresh_yml("m", updates_on="any")})
    sc.built("m", ago(minutes=1), saw={"raw.t": ago(hours=3)})
    sc.fresh("raw.t", ago(seconds=30))
    expect(sc.decide("m"), BUILD, R1)


def test_d9_window_without_change_still_reuses_with_r2(tmp_path: Path) -> None:
    sc = unchanged(one_model(tmp_path, {"models/m.yml": fresh_yml("m", 4, "hour")}), timedelta(hours=1))
    d = sc.decide("m")
    expect(d, REUSE, R2, "SAO 1.5.7")
    assert d.eligible_at is None


def test_d9_project_level_build_after_applies(tmp_path: Path) -> None:
    proj = "name: p\nversion: '1.0'\nprofile: p\nmodels:\n  p:\n    +freshness:\n      build_after: {count: 1, period: day}\n"
    sc = Scenario(
        tmp_path,
        {"models/sources.yml": SOURCES, "models/m.sql": "select * from {{ source('raw', 't') }}"},
        project_yml=proj,
    )
    sc.built("m", ago(hours=6), saw={"raw.t": ago(hours=7)})
    sc.fresh("raw.t", ago(hours=1))
    expect(
        sc.decide("m"), REUSE, "New changes detected. Did not meet build_after of 1day. Last updated 6h ago"
    )


# ------------------------------------------------------------------------------ D8: updates_on


def two_sources(tmp_path: Path, updates_on: str | None = None) -> Scenario:
    files = {
        "models/sources.yml": SOURCES,
        "models/m.sql": "select * from {{ source('raw', 't') }} join {{ source('raw', 'u') }} using (id)",
    }
    if updates_on:
        files["models/m.yml"] = fresh_yml("m", updates_on=updates_on)
    sc = Scenario(tmp_path, files)
    sc.built("m", ago(hours=2), saw={"raw.t": ago(hours=3), "raw.u": ago(hours=3)})
    return sc


@pytest.mark.parametrize("updates_on", [None, "any"])
def test_d8_any_one_parent_with_new_data_builds(tmp_path: Path, updates_on: str | None) -> None:
    sc = two_sources(tmp_path, updates_on)
    sc.fresh("raw.t", ago(minutes=5))
    sc.fresh("raw.u", ago(hours=3))
    expect(sc.decide("m"), BUILD, R1)


def test_d8_r4_all_with_some_parents_new_reuses(tmp_path: Path) -> None:
    sc = two_sources(tmp_path, "all")
    sc.fresh("raw.t", ago(minutes=5))
    sc.fresh("raw.u", ago(hours=3))
    d = sc.decide("m")
    expect(d, REUSE, R4, "SAO D8")
    assert "1 of 2" in d.short


def test_d8_all_with_every_parent_new_builds(tmp_path: Path) -> None:
    sc = two_sources(tmp_path, "all")
    sc.fresh("raw.t", ago(minutes=5))
    sc.fresh("raw.u", ago(minutes=6))
    expect(sc.decide("m"), BUILD, R1)


def test_q4_all_with_no_parent_new_says_no_changes_on_any(tmp_path: Path) -> None:
    sc = two_sources(tmp_path, "all")
    sc.fresh("raw.t", ago(hours=3))
    sc.fresh("raw.u", ago(hours=3))
    expect(sc.decide("m"), REUSE, R2)


def test_q2_updates_on_all_does_not_gate_code_changes(tmp_path: Path) -> None:
    sc = two_sources(tmp_path, "all")
    sc.built("m", ago(hours=2), code="select 2", saw={"raw.t": ago(hours=3), "raw.u": ago(hours=3)})
    sc.fresh("raw.t", ago(hours=3))
    sc.fresh("raw.u", ago(hours=3))
    expect(sc.decide("m"), BUILD, R1)


# ------------------------------------------------------------------------------ D6, missing inputs


def test_d6_1_view_source_without_loaded_at_always_counts_as_new(tmp_path: Path) -> None:
    sc = one_model(tmp_path)
    sc.built("m", ago(hours=2), saw={"raw.t": ago(hours=3)})
    sc.always_new("raw.t")
    d = sc.decide("m")
    expect(d, BUILD, R1)
    assert "D6.1" in d.short


def test_d6_2_source_missing_from_current_freshness_counts_as_new(tmp_path: Path) -> None:
    sc = one_model(tmp_path)
    sc.built("m", ago(hours=2), saw={"raw.t": ago(hours=3)})
    # freshness was read (origin set) but has no entry for raw.t
    d = sc.decide("m")
    expect(d, BUILD, R1)
    assert "D6.2" in d.short


def test_no_current_freshness_at_all_is_unknown(tmp_path: Path) -> None:
    sc = one_model(tmp_path)
    sc.built("m", ago(hours=2), saw={"raw.t": ago(hours=3)})
    sc.freshness_origin = ""
    d = sc.decide("m")
    expect(d, UNKNOWN, rule="SAO 1.5.6")
    assert d.missing


def test_unknown_what_last_build_saw_is_unknown(tmp_path: Path) -> None:
    sc = one_model(tmp_path)
    sc.built("m", ago(hours=2))  # no sources_at_build, no source history
    sc.fresh("raw.t", ago(hours=3))
    expect(sc.decide("m"), UNKNOWN)


def test_unknown_parent_does_not_hide_a_code_change(tmp_path: Path) -> None:
    sc = one_model(tmp_path)
    sc.built("m", ago(hours=2), code="select 1")
    sc.freshness_origin = ""
    expect(sc.decide("m"), BUILD, R1)


def test_all_unknown_parent_with_another_parent_quiet_reuses(tmp_path: Path) -> None:
    """updates_on all: one quiet parent is enough to know 'not all parents have new data'."""
    sc = two_sources(tmp_path, "all")
    sc.freshness_origin = ""  # no freshness read: raw.t is unknown…
    sc.fresh("raw.u", ago(hours=3))  # …but raw.u is known to be quiet
    expect(sc.decide("m"), REUSE, R2)


# ------------------------------------------------------------------------------ chains and a diamond

CHAIN = {
    "models/sources.yml": SOURCES,
    "models/a.sql": "{{ config(materialized='table') }}\nselect * from {{ source('raw', 't') }}",
    "models/b.sql": "{{ config(materialized='table') }}\nselect * from {{ ref('a') }}",
    "models/c.sql": "{{ config(materialized='table') }}\nselect * from {{ ref('b') }}",
}


def chain(tmp_path: Path, extra: dict[str, str] | None = None) -> Scenario:
    sc = Scenario(tmp_path, {**CHAIN, **(extra or {})})
    sc.built("a", ago(hours=3), saw={"raw.t": ago(hours=4)})
    sc.built("b", ago(hours=2, minutes=50))
    sc.built("c", ago(hours=2, minutes=40))
    return sc


def test_chain_new_source_data_builds_the_whole_chain(tmp_path: Path) -> None:
    sc = chain(tmp_path)
    sc.fresh("raw.t", ago(minutes=5))
    ds = sc.plan()
    for name in "abc":
        expect(ds[name], BUILD, R1)
    assert "builds in this run" in ds["b"].short
    assert "builds in this run" in ds["c"].short


def test_chain_quiet_source_reuses_the_whole_chain(tmp_path: Path) -> None:
    sc = chain(tmp_path)
    sc.fresh("raw.t", ago(hours=4))
    ds = sc.plan()
    for name in "abc":
        expect(ds[name], REUSE, R2)


def test_chain_parent_reused_inside_window_means_no_new_data_for_child(tmp_path: Path) -> None:
    sc = chain(tmp_path, {"models/a.yml": fresh_yml("a", 12, "hour")})
    sc.fresh("raw.t", ago(minutes=5))
    ds = sc.plan()
    expect(ds["a"], REUSE, rule="SAO D9")
    expect(ds["b"], REUSE, R2)
    expect(ds["c"], REUSE, R2)


def test_chain_code_change_in_middle_builds_it_and_below(tmp_path: Path) -> None:
    sc = chain(tmp_path)
    sc.built("b", ago(hours=2, minutes=50), code="select 2")
    sc.fresh("raw.t", ago(hours=4))
    ds = sc.plan()
    expect(ds["a"], REUSE, R2)
    expect(ds["b"], BUILD, R1)
    expect(ds["c"], BUILD, R1)


def test_chain_parent_rebuilt_after_child_counts_as_new_data(tmp_path: Path) -> None:
    """D7: a parent rebuilt (by another job) after the child's last build has new data for it."""
    sc = chain(tmp_path)
    sc.built("b", ago(minutes=30))  # b rebuilt after c
    sc.fresh("raw.t", ago(hours=4))
    ds = sc.plan()
    expect(ds["b"], REUSE, R2)
    expect(ds["c"], BUILD, R1)


DIAMOND = {
    "models/sources.yml": SOURCES,
    "models/a.sql": "{{ config(materialized='table') }}\nselect * from {{ source('raw', 't') }}",
    "models/b.sql": "{{ config(materialized='table') }}\nselect * from {{ ref('a') }}",
    "models/c.sql": "{{ config(materialized='table') }}\nselect * from {{ ref('a') }}",
    "models/d.sql": "{{ config(materialized='table') }}\nselect * from {{ ref('b') }} join {{ ref('c') }} using (id)",
}


def diamond(tmp_path: Path, extra: dict[str, str]) -> Scenario:
    sc = Scenario(tmp_path, {**DIAMOND, **extra})
    sc.built("a", ago(hours=3), saw={"raw.t": ago(hours=4)})
    sc.built("b", ago(hours=2, minutes=50))
    sc.built("c", ago(hours=2, minutes=50))
    sc.built("d", ago(hours=2, minutes=40))
    sc.fresh("raw.t", ago(minutes=5))
    return sc


def test_diamond_new_data_at_the_top_builds_everything(tmp_path: Path) -> None:
    ds = diamond(tmp_path, {}).plan()
    for name in "abcd":
        expect(ds[name], BUILD, R1)


def test_diamond_all_with_one_branch_held_back_reuses_the_join(tmp_path: Path) -> None:
    """c is held by build_after, b builds; d (updates_on: all) sees only 1 of 2 parents new → R4."""
    yml = (
        "version: 2\nmodels:\n"
        "  - name: c\n    config:\n      freshness:\n        build_after: {count: 12, period: hour}\n"
        "  - name: d\n    config:\n      freshness:\n        build_after: {updates_on: all}\n"
    )
    ds = diamond(tmp_path, {"models/cfg.yml": yml}).plan()
    expect(ds["a"], BUILD, R1)
    expect(ds["b"], BUILD, R1)
    expect(ds["c"], REUSE, rule="SAO D9")
    expect(ds["d"], REUSE, R4, "SAO D8")


def test_diamond_any_with_one_branch_held_back_builds_the_join(tmp_path: Path) -> None:
    yml = "version: 2\nmodels:\n  - name: c\n    config:\n      freshness:\n        build_after: {count: 12, period: hour}\n"
    ds = diamond(tmp_path, {"models/cfg.yml": yml}).plan()
    expect(ds["d"], BUILD, R1)


# ------------------------------------------------------------------------------ ephemeral parents

EPH = {
    "models/sources.yml": SOURCES,
    "models/e.sql": "{{ config(materialized='ephemeral') }}\nselect * from {{ source('raw', 't') }}",
    "models/m.sql": "{{ config(materialized='table') }}\nselect * from {{ ref('e') }}",
}


def test_d2_d17_new_source_data_behind_an_ephemeral_builds(tmp_path: Path) -> None:
    """D17: an ephemeral is inlined into m, so raw.t is effectively m's parent; D2: new source data builds."""
    sc = Scenario(tmp_path, EPH)
    sc.built("m", ago(hours=2), saw={"raw.t": ago(hours=3)})
    sc.fresh("raw.t", ago(minutes=5))
    ds = sc.plan()
    expect(ds["e"], NOOP, rule="SAO D17")
    expect(ds["m"], BUILD, R1)


def test_d17_quiet_source_behind_an_ephemeral_reuses(tmp_path: Path) -> None:
    sc = Scenario(tmp_path, EPH)
    sc.built("m", ago(hours=2), saw={"raw.t": ago(hours=3)})
    sc.fresh("raw.t", ago(hours=3))
    expect(sc.decide("m"), REUSE, R2)


# ------------------------------------------------------------------------------ Q9 seeds as parents

SEEDED = {
    "seeds/s.csv": "id\n1\n",
    "models/m.sql": "{{ config(materialized='table') }}\nselect * from {{ ref('s') }}",
}


def test_q9_seed_reloaded_after_the_model_counts_as_new_data(tmp_path: Path) -> None:
    sc = Scenario(tmp_path, SEEDED)
    sc.built("s", ago(minutes=30))
    sc.built("m", ago(hours=2))
    ds = sc.plan()
    expect(ds["s"], REUSE, R2)
    expect(ds["m"], BUILD, R1)


def test_q9_seed_file_change_builds_the_seed_and_its_children(tmp_path: Path) -> None:
    sc = Scenario(tmp_path, SEEDED)
    sc.built("s", ago(hours=3), code="id\n0\n")
    sc.built("m", ago(hours=2))
    ds = sc.plan()
    expect(ds["s"], BUILD, R1)
    expect(ds["m"], BUILD, R1)


def test_q9_seed_unchanged_reuses_the_child(tmp_path: Path) -> None:
    sc = Scenario(tmp_path, SEEDED)
    sc.built("s", ago(hours=3))
    sc.built("m", ago(hours=2))
    expect(sc.decide("m"), REUSE, R2)


def test_q9_seed_never_built_builds_and_so_does_its_child(tmp_path: Path) -> None:
    """A seed parent with no recorded build is predicted BUILD (1.5.4), which is new data for the child."""
    sc = Scenario(tmp_path, SEEDED)
    sc.built("m", ago(hours=2))
    ds = sc.plan()
    expect(ds["s"], BUILD, R1, "SAO 1.5.4")
    expect(ds["m"], BUILD, R1)


@pytest.mark.parametrize("regime", ["sao", "dbt-state"])
def test_decisions_come_in_dag_order(tmp_path: Path, regime: str) -> None:
    """``freshlens run`` hands dbt the models to build in the order of the plan's decisions: parents
    (through an ephemeral too) always come before their children, whatever the names sort like."""
    files = {
        "models/sources.yml": SOURCES,
        "models/a_mart.sql": "select * from {{ ref('z_int') }} join {{ ref('m_eph') }} using (id)",
        "models/z_int.sql": "select * from {{ ref('b_stg') }}",
        "models/m_eph.sql": "{{ config(materialized='ephemeral') }}\nselect * from {{ ref('y_stg') }}",
        "models/b_stg.sql": "select * from {{ source('raw', 't') }}",
        "models/y_stg.sql": "select * from {{ source('raw', 'u') }}",
        "seeds/c_seed.csv": "id\n1\n",
        "models/x_uses_seed.sql": "select * from {{ ref('c_seed') }} join {{ ref('a_mart') }} using (id)",
    }
    sc = Scenario(tmp_path, files)
    order = list(sc.plan(regime))
    assert sorted(order) != order  # the names alone would give another order
    position = {name: i for i, name in enumerate(order)}
    edges = [("z_int", "a_mart"), ("m_eph", "a_mart"), ("b_stg", "z_int"), ("y_stg", "m_eph")]
    edges += [("c_seed", "x_uses_seed"), ("a_mart", "x_uses_seed")]
    for parent, child in edges:
        assert position[parent] < position[child], (parent, child, order)
