"""Differential parity: ``freshlens ls --format json`` against the manifest.json of real ``dbt parse``.

Each fixture project under tests/fixtures/parity is copied to a tmp dir and parsed once per session
by real dbt-core + dbt-duckdb (from ``.venv-dbt``); ``freshlens ls`` lists the same copy. The pure
comparison (``freshlens.parity.compare``) checks the node set, enabled/disabled, every
``depends_on`` edge, ``materialized``, ``freshness``/``state`` and source freshness/``loaded_at_*``,
prints the agreement as numbers, and must be exact. Cases that need the parse-time renderer are
marked ``xfail(strict=True)`` one by one: each such mark turns into a failure the moment that
construct is supported, and is then removed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dbtdiff import DBT, DBT_TIMEOUT_S, FRESHLENS_PY, REPO, DbtRun, dbt_env

from freshlens.parity import Parity, compare

FIXTURES = REPO / "tests" / "fixtures" / "parity"

pytestmark = [
    pytest.mark.dbt,
    pytest.mark.skipif(
        not DBT.exists(),
        reason=f"real dbt not installed ({DBT.relative_to(REPO)} missing): run scripts/setup.sh",
    ),
]

RENDERER = "needs the renderer: "


@dataclass(frozen=True)
class Case:
    fixture: str
    name: str
    ids: tuple[str, ...]
    needs: str = ""  # what is missing today; empty = supported

    @property
    def param(self) -> Any:
        marks = [pytest.mark.xfail(strict=True, reason=RENDERER + self.needs)] if self.needs else []
        return pytest.param(self, id=f"{self.fixture}-{self.name}", marks=marks)


def _m(pkg: str, *names: str) -> tuple[str, ...]:
    return tuple(f"model.{pkg}.{n}" for n in names)


CASES = [
    # static: everything freshlens reads without Jinja
    Case(
        "static",
        "literal refs, sources, seeds, snapshots, versions",
        (
            *_m("ps", "stg_orders", "stg_events", "stg_customers", "fct_orders", "latest_customer"),
            *_m("ps", "dim_customer.v1", "dim_customer.v2", "ops_events"),
            "seed.ps.raw_customers",
            "snapshot.ps.customers_snapshot",
        ),
    ),
    Case("static", "enabled: false at folder, YAML and SQL", _m("ps", "old_orders", "yaml_disabled", "sql_disabled")),
    Case(
        "static",
        "source freshness and loaded_at",
        tuple(f"source.ps.raw.{t}" for t in ("orders", "events", "legacy", "no_freshness")),
    ),
    Case(
        "jinja",
        "literal refs next to the Jinja",
        (*_m("pj", "base_orders", "base_customers", "country_us", "country_de"), "source.pj.raw.orders"),
    ),
    Case("jinja", "macro calls ref", _m("pj", "macro_ref")),
    Case("jinja", "macro calls source", _m("pj", "macro_source")),
    Case("jinja", "names passed to a macro", _m("pj", "names_to_macro")),
    Case("jinja", "loop over a var list", _m("pj", "loop_vars")),
    Case("jinja", "set", _m("pj", "set_ref")),
    Case("jinja", "ref through vars", _m("pj", "var_ref")),
    Case("jinja", "config() in a macro", _m("pj", "macro_config")),
    Case("jinja", "materialized from target", _m("pj", "target_mat")),
    Case("jinja", "enabled from var at folder", _m("pj", "opt_a")),
    Case("jinja", "enabled from target in YAML", _m("pj", "target_gated")),
    Case("jinja", "enabled from env_var in SQL", _m("pj", "env_gated")),
    Case("jinja", "enabled = (var and var)", _m("pj", "and_gated")),
    Case("jinja", "freshness count from var", _m("pj", "fresh_var")),
    Case("package", "literal refs into and inside a package", (*_m("pp", "root_a", "uses_helper"), *_m("helper", "helper_base"))),
    Case("package", "dispatch with a root override", _m("pp", "via_dispatch")),
    Case("package", "package macro calls ref", _m("pp", "via_pkg_macro")),
    Case("package", "package var overridden by the root", _m("helper", "helper_extra")),
    # real: constructs reduced from large public projects (docs/parity.md)
    Case("real", "literal refs next to the constructs below", _m("pr", "base", "other", "from_raw")),
    Case(
        "real",
        "macro named with a leading underscore",
        _m("pr", "private_macro"),
    ),
    Case(
        "real",
        "the model's own name, fqn and path",
        _m("pr", "base__model_name", "model_fqn", "model_path"),
    ),
    Case(
        "real",
        "this.schema",
        _m("pr", "this_schema"),
    ),
    Case("real", "target.database", _m("pr", "target_database")),
    Case(
        "real",
        "ref inside {% if execute %}",
        _m("pr", "execute_guard"),
    ),
    Case(
        "real",
        "literal ref in a branch not taken at parse time",
        _m("pr", "branch_target", "branch_var", "branch_incremental"),
    ),
    Case(
        "real",
        "literal ref in a macro the model defines and never calls",
        _m("pr", "unused_macro"),
    ),
    Case(
        "real",
        "| as_bool inside config() of the SQL",
        _m("pr", "as_bool_on", "as_bool_off", "as_bool_and"),
    ),
    Case(
        "real",
        "var() with no value and no default",
        _m("pr", "unset_var"),
    ),
    Case(
        "real",
        "a snapshot's config() from a var",
        ("snapshot.pr.snap_var",),
    ),
    Case(
        "real",
        "Jinja in a source's loaded_at_field, freshness count and enabled",
        tuple(f"source.pr.raw.{t}" for t in ("ts_from_var", "count_from_var", "enabled_from_var")),
    ),
    Case(
        "real",
        "dbt_project.yml Jinja does not see the project's own vars",
        _m("pr", "pv"),
    ),
    Case(
        "real",
        "a source enabled from Jinja in dbt_project.yml",
        ("source.pr.raw_gated.q",),
    ),
    Case("real", "builtins.ref with a computed name", _m("pr", "builtins_ref")),
]  # fmt: skip


@dataclass
class Result:
    dbt: DbtRun
    manifest: dict[str, Any]
    listing: dict[str, Any]


_lock = threading.Lock()
_results: dict[str, Result] = {}


def _run(fixture: str, workdir: Path) -> Result:
    proj = workdir / fixture
    shutil.copytree(FIXTURES / fixture, proj)
    env = dbt_env()
    env.pop("PJ_ENABLE_ENV", None)  # the jinja fixture's env_var() must take its default
    proc = subprocess.run(
        [str(DBT), "parse", "--no-partial-parse", "--profiles-dir", str(proj)],
        cwd=proj,
        env=env,
        capture_output=True,
        text=True,
        timeout=DBT_TIMEOUT_S,
        check=False,
    )
    run = DbtRun(proc.returncode, 0.0, proc.stdout + proc.stderr)
    assert run.verdict == "accepts", f"dbt parse rejects fixture {fixture}:\n{run.problem_lines()}"
    manifest = json.loads((proj / "target" / "manifest.json").read_text(encoding="utf-8"))
    ls = subprocess.run(
        [str(FRESHLENS_PY), "-m", "freshlens", "ls", str(proj), "--format", "json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ls.returncode == 0, ls.stderr
    return Result(run, manifest, json.loads(ls.stdout))


@pytest.fixture(scope="session")
def parsed(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """fixture name -> Result; each fixture is parsed by dbt once per session, on first use."""

    def get(fixture: str) -> Result:
        with _lock:
            if fixture not in _results:
                _results[fixture] = _run(fixture, tmp_path_factory.mktemp("parity"))
            return _results[fixture]

    return get


def _report(title: str, res: Parity) -> None:
    print(f"\n[{title}]")
    for line in res.summary():
        print("  " + line)
    for d in res.disagreements:
        print(f"  ! {d}")


@pytest.mark.parametrize("case", [c.param for c in CASES])
def test_case_matches_dbt(case: Case, parsed) -> None:  # type: ignore[no-untyped-def]
    r = parsed(case.fixture)
    res = compare(r.manifest, r.listing, only=case.ids)
    _report(f"{case.fixture}: {case.name}", res)
    assert res.nodes_expected + len(res.sources_missing) + res.sources.compared == len(case.ids), (
        "a case names a node dbt does not have"
    )
    assert res.exact, "\n".join(str(d) for d in res.disagreements)


@pytest.mark.parametrize(
    "fixture",
    [
        pytest.param(
            f,
            marks=[pytest.mark.xfail(strict=True, reason=RENDERER + "see its cases")]
            if any(c.needs for c in CASES if c.fixture == f)
            else [],
        )
        for f in sorted({c.fixture for c in CASES})
    ],
)
def test_fixture_matches_dbt_in_full(fixture: str, parsed) -> None:  # type: ignore[no-untyped-def]
    """Every node and source of the fixture, including any no case names: 100% or it fails."""
    r = parsed(fixture)
    res = compare(r.manifest, r.listing)
    _report(f"{fixture}: whole project", res)
    assert res.exact, "\n".join(str(d) for d in res.disagreements)
