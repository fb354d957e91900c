"""SQL structure with sqlglot (server/freshlens/sql): placeholders, dialects, star scopes (spec
dbt-state.md §5.1, R18), semantic comparison (§4 C1) and column lineage (Amendments 2026-12, R15)."""

from __future__ import annotations

import doctest

import pytest

import freshlens.sql.lineage
import freshlens.sql.placeholders
import freshlens.sql.structure
from freshlens.sql import (
    analyse,
    column_change,
    columns_read,
    dialect_for,
    plain_sql,
    relation_stars,
    semantic_key,
    star_uses,
)


@pytest.mark.parametrize(
    "module", [freshlens.sql.placeholders, freshlens.sql.structure, freshlens.sql.lineage]
)
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.failed == 0


# ------------------------------------------------------------------------------ placeholders


def test_ref_and_source_become_stable_placeholders() -> None:
    a = plain_sql("select * from {{ ref('orders') }} join {{source('raw', 't')}} using (id)")
    b = plain_sql('select * from {{- ref("orders") -}} join {{ source("raw","t") }} using (id)')
    assert (
        a.relations
        == b.relations
        == {
            "__ref_orders": "ref('orders')",
            "__source_raw__t": "source('raw', 't')",
        }
    )
    assert a.sql.split() == b.sql.split()


def test_versioned_and_package_refs() -> None:
    p = plain_sql("select 1 from {{ ref('m', v=2) }}, {{ ref('pkg', 'n') }}")
    assert p.relations == {"__ref_m__v2": "ref('m', v=2)", "__ref_pkg__n": "ref('pkg', 'n')"}


def test_ref_with_non_literal_argument_is_opaque() -> None:
    p = plain_sql("select 1 from {{ ref(var('model')) }}")
    assert p.relations == {}
    assert "__jinja_" in p.sql


def test_config_comments_and_set_blocks_are_removed_and_control_flow_flagged() -> None:
    p = plain_sql(
        "{{ config(materialized='view') }}{# note #}{% set cols %}a, b{% endset %}"
        "select 1 {% if is_incremental() %} where x > 0 {% endif %}"
    )
    assert p.sql.split() == ["select", "1", "where", "x", ">", "0"]
    assert p.flattened
    assert p.tags[0].startswith("{% set cols %}") and "if is_incremental()" in p.tags


def test_a_jinja_expression_ends_at_its_own_closer_not_one_inside_a_dict_or_string() -> None:
    p = plain_sql(
        "{{ config(freshness={'build_after': {'count': 1, 'period': 'hour'}}) }}\n"
        "select {{ \"}}\" }} as x from {{ ref('m') }}"
    )
    assert p.sql.split()[:2] == ["select", p.sql.split()[1]] and p.sql.split()[1].startswith("__jinja_")
    assert p.sql.split()[2:] == ["as", "x", "from", "__ref_m"]


def test_an_unclosed_jinja_expression_runs_to_the_end() -> None:
    assert plain_sql("select 1 {{ ref('m')").sql.split() == ["select", "1", p_digest("ref('m')")]


def p_digest(inner: str) -> str:
    return plain_sql("{{ " + inner + " }}x").sql.split()[0]


@pytest.mark.parametrize(
    ("adapter", "dialect"),
    [("duckdb", "duckdb"), ("snowflake", "snowflake"), ("sqlserver", "tsql"), ("my_adapter", ""), (None, "")],
)
def test_dialect_from_the_profile_adapter_with_generic_fallback(adapter: str | None, dialect: str) -> None:
    assert dialect_for(adapter) == dialect


def test_adapter_dialect_is_used_and_generic_is_the_fallback() -> None:
    # `QUALIFY` parses in Snowflake; the generic dialect also reads it
    s = analyse("select id from {{ ref('m') }} qualify row_number() over (order by id) = 1", "snowflake")
    assert s.tree is not None and s.dialect == "snowflake"


def test_unparseable_sql_says_why() -> None:
    s = analyse("{% for c in cols %} select {{ c }} {% endfor %} union", "duckdb")
    assert s.tree is None
    assert "cannot parse" in s.problem and "control flow" in s.problem


def test_not_a_select_is_reported() -> None:
    s = analyse("{{ config(materialized='view') }}")
    assert s.tree is None and "no SQL is left" in s.problem


# ------------------------------------------------------------------------------ §5.1 star scopes


@pytest.mark.parametrize(
    ("sql", "relation"),
    [
        ("select * from {{ source('raw', 't') }}", "source('raw', 't')"),
        ("select t.* from {{ ref('m') }} as t", "ref('m')"),
        ("select id, t.* from {{ ref('m') }} t join (select 1 as z) s on true", "ref('m')"),
        ("select * from {{ ref('m') }} join {{ ref('n') }} using (id)", "ref('m')"),
        ("select * from analytics.raw_orders", "analytics.raw_orders"),
        (
            "with source as (select * from {{ source('raw', 't') }}), renamed as (select id from source) "
            "select * from renamed",
            "source('raw', 't')",
        ),
        ("select * from (select * from {{ ref('m') }}) as sub", "ref('m')"),
    ],
)
def test_r18_star_straight_from_a_relation(sql: str, relation: str) -> None:
    stars = relation_stars(analyse(sql, "duckdb"))
    assert stars and stars[0].relation == relation


@pytest.mark.parametrize(
    "sql",
    [
        "with a as (select id, x from {{ ref('m') }}) select * from a",
        "select s.* from {{ ref('m') }} t join (select id from {{ ref('n') }}) s using (id)",
        "select * from (select id, x from {{ ref('m') }}) as sub",
        "select count(*) as n from {{ ref('m') }}",
        "select a * b as c from {{ ref('m') }}",
    ],
)
def test_r18_star_over_a_cte_or_subquery_is_not_over_a_relation(sql: str) -> None:
    assert relation_stars(analyse(sql, "duckdb")) == []


def test_star_over_a_cte_names_the_cte() -> None:
    (use,) = star_uses(analyse("with a as (select id from {{ ref('m') }}) select * from a"))
    assert (use.text, use.relation, use.over) == ("*", "", "a")


# ------------------------------------------------------------------------------ §4 C1 semantic key


def test_c1_layout_case_comments_and_table_aliases_do_not_count() -> None:
    a = analyse(
        "select o.id, c.name -- the key\nfrom {{ ref('orders') }} as o\n join {{ ref('c') }} as c on o.cid = c.id"
    )
    b = analyse(
        "SELECT x.ID, y.NAME\nFROM {{ ref('orders') }} x /* aliases */ JOIN {{ ref('c') }} y ON x.cid = y.id"
    )
    assert semantic_key(a) == semantic_key(b)
    assert semantic_key(a, ignore_aliases=False) != semantic_key(b, ignore_aliases=False)


def test_c1_a_qualified_and_an_unqualified_column_of_one_table_are_the_same() -> None:
    assert semantic_key(analyse("select o.id from {{ ref('orders') }} o")) == semantic_key(
        analyse("select id from {{ ref('orders') }}")
    )


@pytest.mark.parametrize(
    "other",
    [
        "select id, amount from {{ ref('orders') }} where amount > 1",
        "select id from {{ ref('customers') }}",
        "select id from {{ ref('orders') }} {% if is_incremental() %}{% endif %}",
    ],
)
def test_c1_a_logic_change_still_counts(other: str) -> None:
    assert semantic_key(analyse("select id from {{ ref('orders') }}")) != semantic_key(analyse(other))


def test_unparsed_sql_has_no_semantic_key() -> None:
    assert semantic_key(analyse("select from from")) is None


# ------------------------------------------------------------------------------ column lineage

OLD = (
    "with o as (select id, amount, status from {{ ref('raw_orders') }} where amount > 0)\n"
    "select id, amount, status from o"
)


@pytest.mark.parametrize(
    ("new", "rows", "changed", "added", "removed"),
    [
        (
            OLD.replace("status from {{", "status, 1 as extra from {{").replace(
                "status from o", "status, extra from o"
            ),
            False,
            set(),
            {"extra"},
            set(),
        ),
        (OLD.replace("status from {{", "upper(status) as status from {{"), False, {"status"}, set(), set()),
        (OLD.replace("amount > 0", "amount > 10"), True, set(), set(), set()),
        (OLD.replace(", status from o", " from o"), False, set(), set(), {"status"}),
        (OLD.replace("select id, amount, status from o", "select * from o"), False, set(), set(), set()),
        (OLD.replace("from o", "from o as renamed_alias"), False, set(), set(), set()),
    ],
)
def test_column_change_follows_columns_through_ctes(
    new: str, rows: bool, changed: set[str], added: set[str], removed: set[str]
) -> None:
    ch = column_change(analyse(OLD), analyse(new))
    assert ch is not None
    assert (ch.rows, set(ch.changed), set(ch.added), set(ch.removed)) == (rows, changed, added, removed)


def test_a_cte_column_used_in_a_filter_changes_the_rows() -> None:
    old = "with a as (select id, flag from {{ ref('m') }}) select id from a where flag"
    new = "with a as (select id, not flag as flag from {{ ref('m') }}) select id from a where flag"
    ch = column_change(analyse(old), analyse(new))
    assert ch is not None and ch.rows


def test_column_change_unknown_for_unparsed_or_union() -> None:
    assert column_change(analyse("select from from"), analyse(OLD)) is None
    union = "select id from {{ ref('a') }} union all select id from {{ ref('b') }}"
    assert column_change(analyse(union), analyse(union)) is None


def test_columns_read_from_one_relation() -> None:
    s = analyse(
        "select o.id, o.status, c.name from {{ ref('orders') }} o join {{ ref('c') }} c on o.cid = c.id "
        "where total > 1"
    )
    read = columns_read(s, "__ref_orders")
    assert read is not None
    assert set(read.names) == {"id", "status", "cid", "total"} and set(read.ambiguous) == {"total"}
    assert not read.everything


def test_columns_read_through_a_cte_and_star() -> None:
    s = analyse("with a as (select id from {{ ref('orders') }}) select * from a")
    read = columns_read(s, "__ref_orders")
    assert read is not None and set(read.names) == {"id"} and not read.everything
    star = columns_read(analyse("select * from {{ ref('orders') }}"), "__ref_orders")
    assert star is not None and star.everything
