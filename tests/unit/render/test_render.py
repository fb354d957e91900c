"""Parse-time rendering (freshlens.render): what dbt parse does with Jinja, in a sandbox, on a budget.

The differential truth is tests/dbt/test_manifest_parity.py (real dbt parse); these pin the
behaviours one by one, fast, including the ones a real parse cannot show (safety, budget, positions).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from freshlens.cli import main
from freshlens.index import ProjectIndex
from freshlens.model import Finding
from freshlens.workspace import Workspace

PROJECT = "name: p\nversion: '1.0'\nprofile: p\n"


def load(root: Path, vars: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> Workspace:
    ws = Workspace([str(root)], vars=vars, env=env)
    ws.load()
    return ws


def index_of(ws: Workspace) -> ProjectIndex:
    idx = next(iter(ws.projects.values())).index
    assert idx is not None
    return idx


def parents(ws: Workspace, name: str) -> list[str]:
    return index_of(ws).nodes[f"model.p.{name}"].parents


def codes(ws: Workspace, code: str) -> list[Finding]:
    return [f for f in ws.all_findings() if f.code == code]


def test_execute_is_false_so_execute_blocks_add_no_edge(project) -> None:  # type: ignore[no-untyped-def]
    ws = load(
        project(
            {
                "dbt_project.yml": PROJECT,
                "macros/m.sql": "{% macro pick() %}{% if execute %}{{ ref('hidden') }}{% endif %}"
                "{{ ref('a') }}{% endmacro %}",
                "models/a.sql": "select 1",
                "models/b.sql": "select * from {{ pick() }}",
            }
        )
    )
    assert parents(ws, "b") == ["model.p.a"]
    assert codes(ws, "FL003") == [] and codes(ws, "FL012") == []


def test_var_precedence_cli_then_root_scoped_then_root_then_package(project) -> None:  # type: ignore[no-untyped-def]
    root = project(
        {
            "dbt_project.yml": PROJECT + "vars:\n  which: a\n  helper:\n    which: c\n",
            "macros/m.sql": "{% macro pick() %}{{ return(var('which')) }}{% endmacro %}",
            "models/a.sql": "select 1",
            "models/b.sql": "select 1",
            "models/c.sql": "select 1",
            "models/user.sql": "select * from {{ ref(pick()) }}",
            "dbt_packages/helper/dbt_project.yml": "name: helper\nversion: '1.0'\nvars:\n  which: b\n  own: a\n",
            "dbt_packages/helper/models/h.sql": "select * from {{ ref('p', var('which')) }}"
            " join {{ ref('p', var('own')) }}",
        }
    )
    ws = load(root)
    idx = index_of(ws)
    assert idx.nodes["model.p.user"].parents == ["model.p.a"]  # root global
    # a package node: the root's scoped value wins over the package's own; its own var is seen
    assert idx.nodes["model.helper.h"].parents == ["model.p.c", "model.p.a"]
    ws = load(root, vars={"which": "b"})
    assert parents(ws, "user") == ["model.p.b"]  # --vars win


def test_var_without_value_or_default_is_reported_not_guessed(project) -> None:  # type: ignore[no-untyped-def]
    ws = load(
        project(
            {
                "dbt_project.yml": PROJECT,
                "models/a.sql": "select 1",
                "models/b.sql": "-- b\nselect * from {{ ref(var('upstream')) }}\n",
            }
        )
    )
    [f] = codes(ws, "FL012")
    assert "var('upstream')" in f.message and "no value and no default" in f.message
    assert f.loc.span.line == 1 and f.loc.span.col == 14
    assert len(codes(ws, "FL009")) == 1  # the computed ref stays flagged


def test_env_var_default_and_the_environment_only_when_allowed(project) -> None:  # type: ignore[no-untyped-def]
    root = project(
        {
            "dbt_project.yml": PROJECT,
            "models/a.sql": "select 1",
            "models/b.sql": "select 1",
            "models/c.sql": "select * from {{ ref(env_var('FRESHLENS_TEST_PARENT', 'a')) }}",
            "models/d.sql": "select * from {{ ref(env_var('FRESHLENS_TEST_PARENT')) }}",
        }
    )
    ws = load(root, env={})
    assert parents(ws, "c") == ["model.p.a"]
    ws = load(root)
    assert "reading the environment is off" in codes(ws, "FL012")[0].message
    ws = load(root, env={"FRESHLENS_TEST_PARENT": "b"})
    assert parents(ws, "c") == ["model.p.b"] and parents(ws, "d") == ["model.p.b"]


def test_target_from_profiles_and_unknown_fields_are_said(project, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("DBT_PROFILES_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.dbt/profiles.yml in reach
    files = {
        "dbt_project.yml": PROJECT,
        "models/a.sql": "select 1",
        "models/b.sql": "select 1",
        "models/c.sql": "select * from {{ ref('a' if target.name == 'prod' else 'b') }}",
    }
    ws = load(project(files))
    assert "name" not in index_of(ws).renderer.setup.target
    assert "target.name is not known" in codes(ws, "FL012")[0].message
    files["profiles.yml"] = (
        "p:\n  target: prod\n  outputs:\n    prod:\n      type: duckdb\n      path: x.duckdb\n"
    )
    ws = load(project(files))
    assert parents(ws, "c") == ["model.p.a"]
    assert index_of(ws).adapter_type == "duckdb"


def test_dispatch_uses_search_order_and_adapter_prefix(project) -> None:  # type: ignore[no-untyped-def]
    root = project(
        {
            "dbt_project.yml": PROJECT
            + "dispatch:\n  - macro_namespace: helper\n    search_order: ['p', 'helper']\n",
            "profiles.yml": "p:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: x.duckdb\n",
            "macros/over.sql": "{% macro default__parent() %}{{ return('a') }}{% endmacro %}",
            "models/a.sql": "select 1",
            "models/b.sql": "select 1",
            "models/c.sql": "select 1",
            "models/user.sql": "select * from {{ ref(helper.parent()) }} join {{ ref(helper.other()) }}",
            "dbt_packages/helper/dbt_project.yml": "name: helper\nversion: '1.0'\n",
            "dbt_packages/helper/macros/h.sql": (
                "{% macro parent() %}{{ return(adapter.dispatch('parent', 'helper')()) }}{% endmacro %}\n"
                "{% macro default__parent() %}{{ return('b') }}{% endmacro %}\n"
                "{% macro other() %}{{ return(adapter.dispatch('other', 'helper')()) }}{% endmacro %}\n"
                "{% macro default__other() %}{{ return('b') }}{% endmacro %}\n"
                "{% macro duckdb__other() %}{{ return('c') }}{% endmacro %}\n"
            ),
        }
    )
    assert parents(load(root), "user") == ["model.p.a", "model.p.c"]


def test_sandbox_refuses_files_internals_and_runaway_loops(project) -> None:  # type: ignore[no-untyped-def]
    ws = load(
        project(
            {
                "dbt_project.yml": PROJECT,
                "macros/m.sql": "{% macro spin() %}{% for i in range(100000) %}{% for j in range(100000) %}"
                "{% set x = i %}{% endfor %}{% endfor %}{% endmacro %}",
                "models/inc.sql": "{% include '../dbt_project.yml' %}\n{{ ref(var('x')) }}",
                "models/mro.sql": "{{ config(materialized=''.__class__.__mro__[1].__subclasses__()) }}\n"
                "{{ ref(var('x')) }}",
                "models/spin.sql": "select 1\n{{ spin() }}\n{{ ref(var('x')) }}",
            }
        )
    )
    got = {Path(f.loc.path).name: f.message for f in codes(ws, "FL012")}
    assert set(got) == {"inc.sql", "mro.sql", "spin.sql"}
    assert "template steps" in got["spin.sql"] or "longer than" in got["spin.sql"]
    assert "unsafe" in got["mro.sql"] or "sandbox" in got["mro.sql"], got["mro.sql"]
    assert "no loader" in got["inc.sql"], got["inc.sql"]


def test_a_loop_whose_filter_never_lets_an_item_through_is_still_cut(project) -> None:  # type: ignore[no-untyped-def]
    """The budget counts in the templates themselves: a loop body, and every item a loop's ``if``
    looks at, so an endless loop with nothing in its body, or whose filter drops every item, ends."""
    root = project(
        {
            "dbt_project.yml": PROJECT,
            "models/a.sql": "{% for i in modules.itertools.count() if i < 0 %}{% endfor %}\n{{ ref(var('x')) }}",
            "models/b.sql": "{% for i in modules.itertools.count() %}{% endfor %}\n{{ ref(var('x')) }}",
            "models/c.sql": "{% for i in range(3) if i > 0 %}{{ ref('c' ~ i) }}{% endfor %}",
            "models/c1.sql": "select 1",
            "models/c2.sql": "select 2",
        }
    )
    t = time.monotonic()
    ws = load(root)
    assert time.monotonic() - t < 10
    got = {Path(f.loc.path).name: f.message for f in codes(ws, "FL012")}
    assert set(got) == {"a.sql", "b.sql"}
    assert all("template steps" in m for m in got.values()), got
    assert parents(ws, "c") == ["model.p.c1", "model.p.c2"]  # a filtered loop renders as before


def test_a_runaway_render_costs_bounded_time(project) -> None:  # type: ignore[no-untyped-def]
    root = project(
        {
            "dbt_project.yml": PROJECT,
            "macros/m.sql": "{% macro loop(n) %}{{ loop(n + 1) }}{% endmacro %}",
            "models/a.sql": "{{ loop(0) }}",
        }
    )
    t = time.monotonic()
    ws = load(root)
    assert time.monotonic() - t < 10
    [f] = codes(ws, "FL012")
    assert "recursion" in f.message or "template steps" in f.message


def test_calls_keep_the_call_site_position(project) -> None:  # type: ignore[no-untyped-def]
    ws = load(
        project(
            {
                "dbt_project.yml": PROJECT,
                "macros/m.sql": "{% macro nope(n) %}{{ ref(n) }}{% endmacro %}",
                "models/b.sql": "select 1 from\n  {{ ref('a_missing') }}\n  , {{ nope('b_missing') }}\n",
            }
        )
    )
    spans = sorted((f.loc.span.line, f.loc.span.col, f.loc.span.end_col) for f in codes(ws, "FL003"))
    # the literal ref keeps the scanner's exact span; the macro's ref points at the macro call's tag
    assert spans == [(1, 5, 21), (2, 4, 27)]


def test_macro_configs_and_config_get(project) -> None:  # type: ignore[no-untyped-def]
    ws = load(
        project(
            {
                "dbt_project.yml": PROJECT,
                "macros/m.sql": "{% macro as_table() %}{% do config.set('materialized', 'table') %}"
                "{% do config(freshness={'build_after': {'count': 2, 'period': 'hour'}}) %}{% endmacro %}",
                "models/a.sql": "{{ as_table() }}\n"
                "{% if config.get('materialized') == '' %}select 1{% endif %}",
            }
        )
    )
    a = index_of(ws).nodes["model.p.a"]
    assert a.materialized == "table"
    assert a.eff("freshness").value == {"build_after": {"count": 2, "period": "hour"}}


def test_models_without_jinja_that_needs_it_are_not_rendered(project) -> None:  # type: ignore[no-untyped-def]
    ws = load(
        project(
            {
                "dbt_project.yml": PROJECT,
                "macros/m.sql": "{% macro cents(c) %}{{ c }} / 100{% endmacro %}",
                "models/a.sql": "select 1 as id",
                "models/b.sql": "{{ config(materialized='table') }}\nselect * from {{ ref('a') }}",
                "models/c.sql": "select {{ cents('x') }} from {{ ref('a') }}",
            }
        )
    )
    nodes = index_of(ws).nodes
    assert nodes["model.p.a"].render is None and nodes["model.p.b"].render is None
    assert nodes["model.p.c"].render is not None and nodes["model.p.c"].parents == ["model.p.a"]


def test_an_edit_re_renders_that_model(project) -> None:  # type: ignore[no-untyped-def]
    root = project(
        {
            "dbt_project.yml": PROJECT + "vars:\n  names: [a]\n",
            "macros/m.sql": "{% macro union_of(ns) %}{% for n in ns %}select * from {{ ref(n) }}{% endfor %}{% endmacro %}",
            "models/a.sql": "select 1",
            "models/b.sql": "select 1",
            "models/u.sql": "{{ union_of(var('names')) }}",
        }
    )
    ws = load(root)
    assert parents(ws, "u") == ["model.p.a"]
    ws.update_file(str(root / "models" / "u.sql"), "{{ union_of(['a', 'b']) }}")
    assert parents(ws, "u") == ["model.p.a", "model.p.b"]


def test_disabled_by_jinja_leaves_the_dag_and_its_refs_are_not_reported(project) -> None:  # type: ignore[no-untyped-def]
    root = project(
        {
            "dbt_project.yml": PROJECT
            + "models:\n  p:\n    opt:\n      +enabled: \"{{ var('opt_on', false) | as_bool }}\"\n",
            "models/opt/o.sql": "select * from {{ ref('only_in_prod') }}",
        }
    )
    ws = load(root)
    assert index_of(ws).nodes["model.p.o"].eff("enabled").value is False
    assert codes(ws, "FL003") == []
    ws = load(root, vars={"opt_on": True})
    assert index_of(ws).nodes["model.p.o"].eff("enabled").value is True
    assert len(codes(ws, "FL003")) == 1


def test_cli_check_and_ls_take_vars(project, capsys) -> None:  # type: ignore[no-untyped-def]
    root = project(
        {
            "dbt_project.yml": PROJECT,
            "models/a.sql": "select 1",
            "models/b.sql": "select * from {{ ref(var('up')) }}",
        }
    )
    assert main(["check", str(root), "--vars", "{up: a}"]) == 0
    assert "FL012" not in capsys.readouterr().out
    assert main(["check", str(root)]) == 0  # FL012 is information
    assert "FL012" in capsys.readouterr().out
    assert main(["check", str(root), "--vars", "[1]"]) == 2


def test_disk_cache_serves_a_restart_and_follows_changes(project) -> None:  # type: ignore[no-untyped-def]
    root = project(
        {
            "dbt_project.yml": PROJECT,
            "macros/m.sql": "{% macro via(n) %}{{ ref(n) }}{% endmacro %}",
            "models/a.sql": "select 1",
            "models/b.sql": "select 1",
            "models/u.sql": "{{ config(materialized='table') }}\nselect * from {{ via('a') }}",
        }
    )
    first = index_of(load(root))
    assert first.renderer.rendered == 1
    cache_file = root / ".freshlens" / "cache" / "render-v1.json"
    assert cache_file.is_file()
    warm = index_of(load(root))
    assert warm.renderer.rendered == 0  # a restart renders nothing that did not change
    assert (
        warm.nodes["model.p.u"].parents == ["model.p.a"] and warm.nodes["model.p.u"].materialized == "table"
    )
    (root / "macros" / "m.sql").write_text("{% macro via(n) %}{{ ref('b') }}{% endmacro %}")
    changed = index_of(load(root))  # a macro edit changes the context: rendered again
    assert changed.renderer.rendered == 1 and changed.nodes["model.p.u"].parents == ["model.p.b"]
    cache_file.write_text("{not json")
    again = index_of(load(root))  # a corrupt cache is ignored, never trusted
    assert again.renderer.rendered == 1 and again.nodes["model.p.u"].parents == ["model.p.b"]


def test_modules_never_reach_the_operating_system(project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "escaped"
    ws = load(
        project(
            {
                "dbt_project.yml": PROJECT,
                "models/a.sql": "select 1",
                "models/esc.sql": "{{ modules.re.enum.sys.modules['os'].system('touch "
                + str(marker)
                + "') }}\n"
                "select * from {{ ref(var('x')) }}",
                "models/tz.sql": "{{ modules.pytz.os.system('touch " + str(marker) + "') }}\n"
                "select * from {{ ref(var('x')) }}",
                "models/ok.sql": "{% set d = modules.datetime.date(2026, 1, 2) %}"
                "{% set n = modules.re.sub('x', 'a', 'x') %}select * from {{ ref(n) }}",
            }
        )
    )
    assert not marker.exists()
    got = {Path(f.loc.path).name for f in codes(ws, "FL012")}
    assert got == {"esc.sql", "tz.sql"}
    assert parents(ws, "ok") == ["model.p.a"]


def test_the_render_budget_belongs_to_its_thread() -> None:
    """A render's step count is its own: another thread (the server's executor) sees no budget of it,
    as with the per-thread trace function the counter replaced, and a finished render leaves none."""
    import threading

    from freshlens.render import sandbox

    seen: list[object] = []
    with sandbox.budget():
        mine = sandbox._CURRENT.get()
        worker = threading.Thread(target=lambda: seen.append(sandbox._CURRENT.get()))
        worker.start()
        worker.join()
        with sandbox.budget():  # a YAML value rendered inside a render has its own
            assert sandbox._CURRENT.get() is not mine
        assert sandbox._CURRENT.get() is mine
    assert seen == [None]
    assert sandbox._CURRENT.get() is None
