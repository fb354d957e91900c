"""The scanners: exact ranges, dynamic values kept as text, never an exception on bad input."""

from __future__ import annotations

import pytest

from freshlens.durations import DurationError, parse_duration
from freshlens.model import Dynamic, Span
from freshlens.project.files import parse_python_file
from freshlens.project.sqlscan import scan_sql
from freshlens.project.yamlpos import YamlError, YMap, YScalar, parse_yaml, to_plain


def test_config_kwargs_and_positional_dict_and_set_variable() -> None:
    src = (
        '{% set fr = {"build_after": {"count": 4, "period": "hour"}} %}\n'
        "{{ config(materialized='table', freshness=fr) }}\n"
        "{{ config({'state': {'lag_tolerance': '4h'}}, alias=var('x')) }}\n"
    )
    scan = scan_sql(src)
    assert len(scan.configs) == 2
    first = {str(p.key.value): p.value for p in scan.configs[0].args.items}
    assert to_plain(first["freshness"]) == {"build_after": {"count": 4, "period": "hour"}}
    # the value keeps the range where it is written: inside the {% set %}
    assert first["freshness"].span.line == 0
    second = {str(p.key.value): p.value for p in scan.configs[1].args.items}
    assert to_plain(second["state"]) == {"lag_tolerance": "4h"}
    alias = second["alias"]
    assert isinstance(alias, YScalar) and alias.value == Dynamic("var('x')")
    line = src.splitlines()[2]
    assert alias.span == Span(2, line.index("var("), 2, line.index("var(") + len("var('x')"))


def test_refs_sources_versions_and_comments() -> None:
    src = (
        "-- {{ ref('in_sql_comment') }}\n"
        "{# {{ ref('in_jinja_comment') }} #}\n"
        "select * from {{ ref('a') }} join {{ ref('pkg', 'b') }} join {{ ref('c', v=2) }}"
        " join {{ source('s', 't') }}\n"
        "{% for x in ['p', 'q'] %}{{ ref(x) }}{% endfor %}\n"
    )
    refs = scan_sql(src).refs
    got = [(r.kind, r.args, r.version, r.dynamic, r.in_loop) for r in refs]
    assert got == [
        ("ref", ["in_sql_comment"], None, False, False),  # dbt renders Jinja inside -- comments
        ("ref", ["a"], None, False, False),
        ("ref", ["pkg", "b"], None, False, False),
        ("ref", ["c"], "2", False, False),
        ("source", ["s", "t"], None, False, False),
        ("ref", [None], None, True, True),
    ]
    assert refs[1].span == Span(2, 17, 2, 25)


def test_ternary_and_env_var_are_dynamic() -> None:
    scan = scan_sql(
        "{{ config(freshness={'build_after': {'count': 4 if target.name == 'prod' else 1, 'period': env_var('P')}}) }}"
    )
    ba = to_plain(scan.configs[0].args.items[0].value)["build_after"]
    assert isinstance(ba["count"], Dynamic) and ba["count"].text == "4 if target.name == 'prod' else 1"
    assert ba["period"] == Dynamic("env_var('P')")


def test_dict_braces_inside_an_expression_block() -> None:
    scan = scan_sql('{{ config(freshness={"build_after": {"count": 1, "period": "day"}})}}')
    assert to_plain(scan.configs[0].args.items[0].value) == {"build_after": {"count": 1, "period": "day"}}
    assert scan.problems == []


@pytest.mark.parametrize(
    "src",
    [
        "select {{ ref('a' }}",
        "{{ config(x=1) ",
        "{# never closed",
        "{% if x %}select 1",
        "{{ 'unterminated }}",
    ],
)
def test_broken_jinja_is_a_problem_not_an_exception(src: str) -> None:
    assert scan_sql(src).problems


def test_yaml_positions_merge_keys_duplicates_and_tabs() -> None:
    text = "a: &x {p: 1}\nb:\n  <<: *x\n  q: 2\nc: 1\t\nc: 2\n"
    node = parse_yaml(text)
    assert isinstance(node, YMap)
    assert to_plain(node) == {"a": {"p": 1}, "b": {"p": 1, "q": 2}, "c": 2}
    assert [(a.span.line, b.span.line) for a, b in node.duplicates] == [(4, 5)]
    b = node.get("b")
    assert isinstance(b, YMap) and b.pair("q") is not None


def test_yaml_error_has_position() -> None:
    with pytest.raises(YamlError) as exc:
        parse_yaml("models:\n  - name: a\n   bad: [\n")
    assert exc.value.span.line >= 2


def test_python_model_calls() -> None:
    src = "def model(dbt, session):\n    dbt.config(materialized='table', freshness={'build_after': {'count': 1}})\n    return dbt.ref('a').join(dbt.source('s', 't'))\n"
    f = parse_python_file("/x/m.py", src)
    assert [(r.kind, r.args) for r in f.refs] == [("ref", ["a"]), ("source", ["s", "t"])]
    cfg = {str(p.key.value): to_plain(p.value) for p in f.configs[0].args.items}
    assert cfg["freshness"] == {"build_after": {"count": 1}}
    bad = parse_python_file("/x/m.py", "def model(:\n")
    assert bad.problems and bad.problems[0].code == "FL002"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("45m", 2700),
        ("45 minutes", 2700),
        ("2700s", 2700),
        ("0.75h", 2700),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("90min", 5400),
        ("1.5h", 5400),
        ("0", 0),
        ("0s", 0),
        ("1w", 604800),
        ("1M", 2630016),
        ("1y", 31557600),
    ],
)
def test_duration_grammar(text: str, seconds: int) -> None:
    """spec/dbt-state.md §2.3.2 examples."""
    assert parse_duration(text).seconds == seconds


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1H", 'unknown time unit "H"'),
        ("5", "time unit needed, for example 5sec or 5ms"),
        ("-1h", "expected number at 0"),
        ("1:30:00", "invalid character at 1"),
        ("0.5s", "expected a whole number"),
        ("", "value was empty"),
        ("  ", "value was empty"),
        ("PT1H", "expected number at 0"),
    ],
)
def test_duration_errors(text: str, reason: str) -> None:
    """spec/dbt-state.md §2.3.2 and §2.5: the engine's own wording."""
    with pytest.raises(DurationError) as exc:
        parse_duration(text)
    assert reason in str(exc.value)
    assert str(exc.value).startswith(f'invalid lag_tolerance duration "{text}"')
