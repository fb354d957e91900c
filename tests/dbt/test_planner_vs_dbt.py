"""Differential check: freshlens' SAO prediction against dbt Core's nearest equivalent (spec sao.md §7).

For a project **without** ``build_after``/``state`` configs, SAO's default (D2, §1.5) builds a model when
its code changed or any upstream has new data, which dbt Core approximates with (C1–C3)::

    dbt ls --select state:modified+ source_status:fresher+ --state <run 1 artifacts> --resource-type model

So after run 1 (``dbt build`` + ``dbt source freshness``, artifacts copied to ``A``) and one change
scenario (new source rows, a meaningful SQL edit, both, nothing) followed by a second
``dbt source freshness``, the models ``freshlens plan --state A --sources <current sources.json>
--regime sao`` predicts ``build`` must be exactly the models dbt selects. Edits here always change the
logic (never only whitespace or comments, which are a documented difference, C4 / Q1).

Run 1 happens once per module; each scenario works on its own copy of the built project (DuckDB file
included), shares ``A``, and the scenarios run in parallel threads (fixture ``outcomes``). Scenarios
marked ``xfail`` show known freshlens bugs (strict: they fail the run once fixed, so the mark goes).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

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
    xfail: str = ""  # a known freshlens bug this scenario shows


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
    Scenario(
        "d-rows-loaded-no-later-than-before",
        edits={},
        new_rows=("orders-old",),
        expected=frozenset(),
    ),
    Scenario(
        "e-materialization-change",
        edits={
            "models/marts/customer_names.sql": (
                "{{ config(materialized='view') }}\nselect id, name from {{ ref('stg_customers') }}\n"
            ),
        },
        expected=frozenset({"customer_names"}),
    ),
    Scenario(
        "e-macro-edit",
        edits={
            "macros/cents.sql": "{% macro cents(col) %}cast(floor({{ col }} * 100) as bigint){% endmacro %}\n"
        },
        expected=frozenset({"order_amounts", "order_summary"}),
    ),
    Scenario(
        "e-new-model",
        edits={"models/marts/order_big.sql": "select id from {{ ref('order_amounts') }} where amount > 15\n"},
        expected=frozenset({"order_big"}),
    ),
    Scenario(
        "e-materialization-in-properties-yaml",
        edits={
            "models/marts/_models.yml": (
                "version: 2\nmodels:\n  - name: customer_rank\n    config:\n      materialized: view\n"
            )
        },
        expected=frozenset({"customer_rank", "top_customers"}),
    ),
    Scenario(
        "e-alias-in-properties-yaml",
        edits={
            "models/marts/_models.yml": (
                "version: 2\nmodels:\n  - name: customer_rank\n    config:\n      alias: customer_ranking\n"
            )
        },
        expected=frozenset({"customer_rank", "top_customers"}),
    ),
]

WORKERS = 2


@dataclass
class Outcome:
    dbt_set: set[str] = field(default_factory=set)
    doc: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0


def _run_scenario(base: ShopProject, state: Path, scenario: Scenario, dst: Path) -> Outcome:
    start = time.monotonic()
    try:
        proj = base.copy_to(dst)
        for table in scenario.new_rows:
            proj.duckdb(NEW_ROWS[table])
        for rel, text in scenario.edits.items():
            proj.edit(rel, text)
        # dbt source freshness (the current target/sources.json), then dbt ls with the selectors
        dbt_set = proj.freshness_then_selected(*DBT_SELECTOR, state=state)
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
        return Outcome(dbt_set, doc, seconds=time.monotonic() - start)
    except Exception as exc:  # reported by the scenario's own test
        return Outcome(error=f"{type(exc).__name__}: {exc}", seconds=time.monotonic() - start)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Run 1 once (artifacts -> ``A``), then every scenario on its own copy, in parallel."""
    root = tmp_path_factory.mktemp("planner_vs_dbt")
    base = ShopProject.create(root / "shop")
    base.dbt("build").check()
    base.dbt("source", "freshness").check()
    state = base.save_artifacts(root / "A", ("manifest.json", "run_results.json", "sources.json"))
    with ThreadPoolExecutor(WORKERS) as pool:
        futures = {s.id: pool.submit(_run_scenario, base, state, s, root / s.id / "shop") for s in SCENARIOS}
        return {sid: f.result() for sid, f in futures.items()}


@pytest.mark.parametrize(
    "scenario",
    [
        pytest.param(s, id=s.id, marks=[pytest.mark.xfail(strict=True, reason=s.xfail)] if s.xfail else [])
        for s in SCENARIOS
    ],
)
def test_freshlens_builds_what_dbt_state_selectors_select(
    outcomes: dict[str, Outcome], scenario: Scenario
) -> None:
    out = outcomes[scenario.id]
    assert not out.error, f"scenario {scenario.id} did not run:\n{out.error}"
    dbt_set, doc = out.dbt_set, out.doc
    by_name = models_by_name(doc)
    models = sorted(
        {
            *MODELS,
            *(Path(rel).stem for rel in scenario.edits if rel.endswith(".sql") and rel.startswith("models/")),
        }
    )
    assert sorted(by_name) == models, f"freshlens planned other models than the project has:\n{describe(doc)}"
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
    # dbt must do what the scenario was written for, or the comparison proves little.
    assert dbt_set == scenario.expected, f"dbt selected something unexpected\n{report}"
    assert not undecided, f"freshlens left models undecided {undecided}\n{report}"
    assert fl_set == dbt_set, report
