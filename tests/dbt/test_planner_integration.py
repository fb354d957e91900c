"""freshlens' planner on real dbt runs: ingest real artifacts, change data or code, check single predictions.

The shop project (``plannerkit``) gets two configs here:

* ``order_facts``: ``freshness: {build_after: {count: 4, period: hour}}`` (SAO D9);
* ``top_customers``: ``state: {lag_tolerance: 12h}`` (dbt State, spec dbt-state.md R14/R16).

Run 1 (``dbt build`` + ``dbt source freshness``) is made once per module and ingested into the project's
state store with ``freshlens state ingest``; every test works on its own copy (DuckDB file and
``.freshlens/state.db`` included). Times given to ``--at`` are offsets from ``order_facts``' real
build time (``timing[execute].completed_at`` in run 1's ``run_results.json``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dbtdiff import DBT
from plannerkit import (
    MISSING_DBT,
    MODELS,
    NEW_ROWS,
    ShopProject,
    build_times,
    describe,
    iso,
    models_by_name,
    parse_ts,
)

pytestmark = [pytest.mark.dbt, pytest.mark.skipif(not DBT.exists(), reason=MISSING_DBT)]

CONFIGS = {
    "models/marts/_models.yml": """\
version: 2
models:
  - name: order_facts
    config:
      freshness:
        build_after: {count: 4, period: hour}
  - name: top_customers
    config:
      state:
        lag_tolerance: 12h
""",
}


class Run1:
    def __init__(self, proj: ShopProject, artifacts: Path) -> None:
        self.proj = proj
        self.artifacts = artifacts
        self.built = build_times(artifacts)

    @property
    def t(self) -> datetime:
        """When run 1 finished building order_facts."""
        return self.built["order_facts"]


@pytest.fixture(scope="module")
def run1(tmp_path_factory: pytest.TempPathFactory) -> Run1:
    root = tmp_path_factory.mktemp("planner_integration")
    proj = ShopProject.create(root / "shop", CONFIGS)
    proj.dbt("build").check()
    proj.dbt("source", "freshness").check()
    artifacts = proj.save_artifacts(root / "run1", ("manifest.json", "run_results.json", "sources.json"))
    proj.freshlens("state", "ingest", str(artifacts), "--project", str(proj.root)).check()
    assert (proj.root / ".freshlens" / "state.db").is_file()
    return Run1(proj, artifacts)


@pytest.fixture
def shop(run1: Run1, tmp_path: Path) -> ShopProject:
    return run1.proj.copy_to(tmp_path / "shop")


def plan_at(
    proj: ShopProject, at: datetime, sources: Path, *extra: str, regime: str = "sao"
) -> tuple[dict[str, dict[str, Any]], str]:
    doc = proj.plan("--sources", str(sources), "--at", iso(at), "--regime", regime, *extra)
    assert doc["regime"] == regime
    return models_by_name(doc), describe(doc)


def expect(
    models: dict[str, dict[str, Any]], table: str, name: str, action: str, rule: str, reason: str
) -> None:
    m = models[name]
    got = (m["action"], m["rule"], m["reason"])
    assert got == (action, rule, reason), f"{name}: expected {(action, rule, reason)}, got {got}\n{table}"


# --------------------------------------------------------------------------------------------------
# SAO: build_after holds back a data-triggered build, then lets it through (D9, R3 / R1)


def test_build_after_reuses_within_the_window_and_builds_after_it(run1: Run1, shop: ShopProject) -> None:
    shop.duckdb(NEW_ROWS["payments"])
    shop.dbt("source", "freshness").check()
    current = shop.target / "sources.json"

    models, table = plan_at(shop, run1.t + timedelta(hours=1), current)
    # The view over the refreshed source builds (no build_after: default count 0) ...
    expect(models, table, "stg_payments", "build", "SAO 1.5.9", "New changes detected")
    # ... which is new data for order_facts, held back by its 4h window.
    expect(
        models,
        table,
        "order_facts",
        "reuse",
        "SAO D9",
        "New changes detected. Did not meet build_after of 4h. Last updated 1h ago",
    )
    assert models["order_facts"]["evidence"]["last_build"] == iso(run1.t), table
    assert parse_ts(models["order_facts"]["evidence"]["eligible_at"]) == run1.t + timedelta(hours=4), table
    # order_facts is reused, so its children see no new data.
    for child in ("order_amounts", "order_counts", "order_summary", "customer_orders"):
        expect(models, table, child, "reuse", "SAO 1.5.7", "No new changes on any upstreams")
    # A branch without new data.
    expect(models, table, "customer_names", "reuse", "SAO 1.5.7", "No new changes on any upstreams")

    models, table = plan_at(shop, run1.t + timedelta(hours=5), current)
    expect(models, table, "order_facts", "build", "SAO 1.5.9", "New changes detected")
    for child in ("order_amounts", "order_counts", "order_summary", "customer_orders", "top_customers"):
        expect(models, table, child, "build", "SAO 1.5.9", "New changes detected")
    expect(models, table, "customer_names", "reuse", "SAO 1.5.7", "No new changes on any upstreams")


def test_no_new_data_reuses_everything(run1: Run1, shop: ShopProject) -> None:
    shop.dbt("source", "freshness").check()
    models, table = plan_at(shop, run1.t + timedelta(hours=5), shop.target / "sources.json")
    for name in MODELS:
        expect(models, table, name, "reuse", "SAO 1.5.7", "No new changes on any upstreams")


# --------------------------------------------------------------------------------------------------
# The state store accumulates runs: a partial run keeps the other models' last builds


def test_second_partial_run_keeps_the_other_models_last_builds(
    run1: Run1, shop: ShopProject, tmp_path: Path
) -> None:
    shop.dbt("build", "--select", "customer_names").check()
    run2 = shop.save_artifacts(tmp_path / "run2", ("manifest.json", "run_results.json"))
    run2_built = build_times(run2)
    assert set(run2_built) == {"customer_names"}
    shop.freshlens("state", "ingest", str(run2), "--project", str(shop.root)).check()

    at = max(run2_built.values()) + timedelta(hours=1)
    models, table = plan_at(shop, at, run1.artifacts / "sources.json")
    for name in MODELS:
        want = run2_built.get(name, run1.built[name])
        got = models[name]["evidence"]["last_build"]
        assert got is not None and parse_ts(got) == want, (
            f"{name}: last_build {got}, expected {iso(want)}\n{table}"
        )
        expect(models, table, name, "reuse", "SAO 1.5.7", "No new changes on any upstreams")

    # Ingesting run 1 again (older) changes nothing.
    shop.freshlens("state", "ingest", str(run1.artifacts), "--project", str(shop.root)).check()
    again, _ = plan_at(shop, at, run1.artifacts / "sources.json")
    assert parse_ts(again["customer_names"]["evidence"]["last_build"]) == run2_built["customer_names"]


# --------------------------------------------------------------------------------------------------
# Clear cache (D15): every model builds


def test_state_clear_builds_every_model(run1: Run1, shop: ShopProject) -> None:
    shop.freshlens("state", "clear", "--project", str(shop.root)).check()
    models, table = plan_at(shop, run1.t + timedelta(hours=1), run1.artifacts / "sources.json")
    assert sorted(models) == MODELS
    for name in MODELS:
        m = models[name]
        assert (m["action"], m["rule"]) == ("build", "SAO D15"), f"{name}\n{table}"
        assert m["reason"] == "New changes detected", f"{name}\n{table}"


# --------------------------------------------------------------------------------------------------
# Deleted tables (D12): the catalog says the relation is gone -> build; rebuilt again -> back to reuse


def test_dropped_table_in_catalog_builds_then_rebuild_clears_it(
    run1: Run1, shop: ShopProject, tmp_path: Path
) -> None:
    shop.duckdb("drop table main.order_amounts")
    shop.dbt("docs", "generate").check()
    docs = shop.save_artifacts(tmp_path / "docs", ("manifest.json", "run_results.json", "catalog.json"))
    shop.freshlens("state", "ingest", str(docs), "--project", str(shop.root)).check()

    at = run1.t + timedelta(hours=1)
    models, table = plan_at(shop, at, run1.artifacts / "sources.json")
    expect(models, table, "order_amounts", "build", "SAO D12", "New changes detected")
    assert models["order_amounts"]["short"] == "table missing in the warehouse", table
    # docs generate built nothing: the last build is still run 1's.
    assert parse_ts(models["order_amounts"]["evidence"]["last_build"]) == run1.built["order_amounts"], table
    expect(models, table, "order_summary", "build", "SAO 1.5.9", "New changes detected")
    for name in ("order_facts", "order_counts", "customer_orders", "customer_names", "stg_orders"):
        expect(models, table, name, "reuse", "SAO 1.5.7", "No new changes on any upstreams")

    # Rebuild the dropped table (and its child): the relation exists again, nothing is left to do.
    shop.dbt("build", "--select", "order_amounts+").check()
    run3 = shop.save_artifacts(tmp_path / "run3", ("manifest.json", "run_results.json"))
    shop.freshlens("state", "ingest", str(run3), "--project", str(shop.root)).check()
    later = max(build_times(run3).values()) + timedelta(minutes=5)
    models, table = plan_at(shop, later, run1.artifacts / "sources.json")
    for name in MODELS:
        expect(models, table, name, "reuse", "SAO 1.5.7", "No new changes on any upstreams")


# --------------------------------------------------------------------------------------------------
# Code changes: dbt State always rebuilds (R14); SAO's build_after also gates code (D9)


def test_code_change_builds_under_dbt_state_regardless_of_lag_tolerance(
    run1: Run1, shop: ShopProject
) -> None:
    shop.edit(
        "models/marts/top_customers.sql",
        "select customer_id from {{ ref('customer_rank') }} where rnk <= 5\n",
    )
    shop.edit(
        "models/marts/order_facts.sql",
        """\
select o.id, o.customer_id, coalesce(p.amount, 0) as amount
from {{ ref('stg_orders') }} o
left join {{ ref('stg_payments') }} p on p.order_id = o.id
""",
    )
    shop.dbt("source", "freshness").check()
    current = shop.target / "sources.json"
    at = run1.t + timedelta(hours=1)

    models, table = plan_at(shop, at, current, regime="dbt-state")
    # top_customers has lag_tolerance 12h, order_facts build_after 4h (the dbt State fallback): both build.
    expect(models, table, "top_customers", "build", "STATE R14", "query changed")
    expect(models, table, "order_facts", "build", "STATE R14", "query changed")
    assert models["order_facts"]["evidence"]["code_change"], table
    expect(models, table, "order_amounts", "build", "STATE R15", "upstream query changed")
    expect(models, table, "customer_names", "reuse", "STATE R16", "No new changes on any upstreams")

    # Under SAO the same edit to order_facts waits for its 4h build_after window.
    models, table = plan_at(shop, at, current)
    expect(
        models,
        table,
        "order_facts",
        "reuse",
        "SAO D9",
        "New changes detected. Did not meet build_after of 4h. Last updated 1h ago",
    )
    expect(models, table, "top_customers", "build", "SAO 1.5.9", "New changes detected")


# --------------------------------------------------------------------------------------------------
# A full deploy run after new source data (build, then source freshness, like run 1): nothing is left


@pytest.fixture(scope="module")
def rerun(run1: Run1, tmp_path_factory: pytest.TempPathFactory) -> tuple[ShopProject, Path]:
    """New payments rows, then run 2 = ``dbt build`` + ``dbt source freshness``, ingested into the store."""
    root = tmp_path_factory.mktemp("planner_rerun")
    shop = run1.proj.copy_to(root / "shop")
    shop.duckdb(NEW_ROWS["payments"])
    shop.dbt("build").check()
    shop.dbt("source", "freshness").check()
    run2 = shop.save_artifacts(root / "run2", ("manifest.json", "run_results.json", "sources.json"))
    shop.freshlens("state", "ingest", str(run2), "--project", str(shop.root)).check()
    return shop, run2


def test_full_rerun_after_new_data_reuses_everything_with_the_run_as_state(
    rerun: tuple[ShopProject, Path],
) -> None:
    shop, run2 = rerun
    at = max(build_times(run2).values()) + timedelta(hours=5)
    models, table = plan_at(shop, at, run2 / "sources.json", "--state", str(run2))
    for name in MODELS:
        expect(models, table, name, "reuse", "SAO 1.5.7", "No new changes on any upstreams")


def test_full_rerun_after_new_data_reuses_everything_with_the_store(rerun: tuple[ShopProject, Path]) -> None:
    shop, run2 = rerun
    at = max(build_times(run2).values()) + timedelta(hours=5)
    models, table = plan_at(shop, at, run2 / "sources.json")
    for name in MODELS:
        expect(models, table, name, "reuse", "SAO 1.5.7", "No new changes on any upstreams")
