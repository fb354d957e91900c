"""Differential check: freshlens' SAO prediction against dbt Core's nearest equivalent (spec sao.md §7).

For a project **without** ``build_after``/``state`` configs, SAO's default (D2, §1.5) builds a model when
its code changed or any upstream has new data, which dbt Core approximates with (C1–C3)::

    dbt ls --select state:modified+ source_status:fresher+ --state <run 1 artifacts> --resource-type model

So after run 1 (``dbt build`` + ``dbt source freshness``, artifacts copied to ``A``) and one change
scenario (new source rows, a meaningful SQL edit, both, nothing) followed by a second
``dbt source freshness``, the models ``freshlens plan --state A --sources <current sources.json>
--regime sao`` predicts ``build`` must be exactly the models dbt selects. Edits here always change the
logic (never only whitespace or comments, which are a documented difference, C4 / Q1).

Run 1 happens once per module; each scenario works on a copy of the built project (DuckDB file
included) and shares ``A``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from dbtdiff import DBT
from plannerkit import MISSING_DBT, MODELS, NEW_ROWS, ShopProject, describe, generated_at, iso, models_by_name

pytestmark = [pytest.mark.dbt, pytest.mark.skipif(not DBT.exists(), reason=MISSING_DBT)]

DBT_SELECTOR = ("state:modified+", "source_status:fresher+")


@dataclass(frozen=True)
class Scenario:
    id: str
    new_rows: tuple[str, ...] = ()  # raw tables that get a newer row
    edits: dict[str, str] = field(default_factory=dict)  # file -> new text
    expected: frozenset[str] = frozenset()  # what both should select (documents the intent)


SCENARIOS = [
    Scenario(
        "a-new-source-rows",
        new_rows=("payments",),
        expected=frozenset(
            {
                "stg_payments",
                "order_facts",
                "order_amounts",
                "order_counts",
                "order_summary",
                "customer_orders",
                "customer_rank",
                "top_customers",
            }
        ),
    ),
    Scenario(
        "b-sql-edit-mid-chain",
        edits={
            "models/marts/customer_orders.sql": """\
select c.id as customer_id, count(f.id) as n_orders, sum(coalesce(f.amount, 0)) as total
from {{ ref('stg_customers') }} c
left join {{ ref('order_facts') }} f on f.customer_id = c.id
group by 1
""",
        },
        expected=frozenset({"customer_orders", "customer_rank", "top_customers"}),
    ),
    Scenario(
        "b-sql-edit-staging-view",
        edits={
            "models/staging/stg_orders.sql": (
                "select id, customer_id from {{ source('raw', 'orders') }} where id is not null\n"
            ),
        },
        expected=frozenset(
            {
                "stg_orders",
                "order_facts",
                "order_amounts",
                "order_counts",
                "order_summary",
                "customer_orders",
                "customer_rank",
                "top_customers",
            }
        ),
    ),
    Scenario(
        "c-new-rows-and-edit-in-other-branches",
        new_rows=("customers",),
        edits={
            "models/marts/order_amounts.sql": "select id, amount from {{ ref('order_facts') }} where amount > 0\n"
        },
        expected=frozenset(
            {
                "stg_customers",
                "customer_names",
                "customer_orders",
                "customer_rank",
                "top_customers",
                "order_amounts",
                "order_summary",
            }
        ),
    ),
    Scenario("d-nothing-changes", expected=frozenset()),
]


@pytest.fixture(scope="module")
def run1(tmp_path_factory: pytest.TempPathFactory) -> tuple[ShopProject, Path]:
    """The built project after run 1, and ``A`` (its manifest, run_results and sources.json)."""
    root = tmp_path_factory.mktemp("planner_vs_dbt")
    proj = ShopProject.create(root / "shop")
    proj.dbt("build").check()
    proj.dbt("source", "freshness").check()
    state = proj.save_artifacts(root / "A", ("manifest.json", "run_results.json", "sources.json"))
    return proj, state


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_freshlens_builds_what_dbt_state_selectors_select(
    run1: tuple[ShopProject, Path], scenario: Scenario, tmp_path: Path
) -> None:
    base, state = run1
    proj = base.copy_to(tmp_path / "shop")
    for table in scenario.new_rows:
        proj.duckdb(NEW_ROWS[table])
    for rel, text in scenario.edits.items():
        proj.edit(rel, text)
    proj.dbt("source", "freshness").check()  # the current target/sources.json

    dbt_set = proj.dbt_selected(*DBT_SELECTOR, state=state)

    at = generated_at(state) + timedelta(hours=1)
    doc = proj.plan(
        "--state",
        str(state),
        "--sources",
        str(proj.target / "sources.json"),
        "--regime",
        "sao",
        "--at",
        iso(at),
    )
    by_name = models_by_name(doc)
    assert sorted(by_name) == MODELS, f"freshlens planned other models than the project has:\n{describe(doc)}"
    fl_set = {name for name, m in by_name.items() if m["action"] == "build"}
    undecided = {name: m["action"] for name, m in by_name.items() if m["action"] not in ("build", "reuse")}

    report = (
        f"scenario {scenario.id}\n"
        f"dbt ls --select {' '.join(DBT_SELECTOR)}: {sorted(dbt_set)}\n"
        f"freshlens build:                 {sorted(fl_set)}\n"
        f"only dbt:       {sorted(dbt_set - fl_set)}\n"
        f"only freshlens: {sorted(fl_set - dbt_set)}\n"
        f"freshlens per model:\n{describe(doc)}"
    )
    assert not undecided, f"freshlens left models undecided {undecided}\n{report}"
    assert fl_set == dbt_set, report
    # Both tools should also agree with what the scenario was written to do.
    assert dbt_set == scenario.expected, f"dbt selected something unexpected\n{report}"
