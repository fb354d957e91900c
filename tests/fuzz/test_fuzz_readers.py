"""Fuzzing the project readers (issue 12): YAML with positions, the SQL/Jinja scanner, the file
parsers, the file reader and the lag_tolerance duration grammar.

Property of each: on any input it returns (or raises only its documented error), within
fuzzkit.BOUND_S, and every position it reports lies inside the text, so an editor can show it.
Seeds are the repository's real files; see fuzzkit for the mutations. Profiles: tests/fuzz/conftest.py.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from fuzzkit import PY_SEEDS, SQL_SEEDS, YAML_SEEDS, as_text, bounded, mutated
from hypothesis import given
from hypothesis import strategies as st

from freshlens.durations import DurationError, format_seconds, parse_duration, portability_notes
from freshlens.model import ParseProblem, Span
from freshlens.project.files import parse_project_file, parse_props_file, parse_python_file, parse_sql_file
from freshlens.project.reading import read_project_file
from freshlens.project.sqlscan import scan_sql
from freshlens.project.yamlpos import YamlError, parse_yaml, to_plain

_BREAKS = re.compile(r"\r\n|\r|\n")
ANY_TEXT = st.one_of(mutated(YAML_SEEDS + SQL_SEEDS).map(as_text), st.text(max_size=300))


def _inside(text: str, span: Span) -> bool:
    """The span starts and ends on a line of ``text`` (LSP line breaks: \\n, \\r\\n, \\r)."""
    n_lines = len(_BREAKS.split(text))
    return 0 <= span.line <= span.end_line <= n_lines and span.col >= 0 and span.end_col >= 0


def _positions_ok(text: str, problems: list[ParseProblem]) -> None:
    for p in problems:
        assert _inside(text, p.loc.span), (p.code, p.message, p.loc.span)
        assert p.message.strip(), p


@given(mutated(YAML_SEEDS).map(as_text))
def test_yaml_reader_raises_only_yaml_error(text: str) -> None:
    def run() -> None:
        try:
            node = parse_yaml(text, [])
        except YamlError as exc:
            assert exc.message and _inside(text, exc.span), (exc.message, exc.span)
            return
        to_plain(node)  # the nesting and alias limits make any walk of the tree safe

    bounded(run)


@given(mutated(SQL_SEEDS + YAML_SEEDS).map(as_text))
def test_sql_scanner_never_raises(text: str) -> None:
    scan = bounded(lambda: scan_sql(text))
    for p in scan.problems:
        assert _inside(text, p.span), (p.message, p.span)
    for call in [*scan.configs, *scan.refs]:
        assert _inside(text, call.span), call


@given(mutated(YAML_SEEDS).map(as_text))
def test_properties_and_project_parsers_never_raise(text: str) -> None:
    props = bounded(lambda: parse_props_file("models/x.yml", text))
    _positions_ok(text, props.problems)
    proj = bounded(lambda: parse_project_file("dbt_project.yml", text))
    _positions_ok(text, proj.problems)


@given(mutated(SQL_SEEDS).map(as_text))
def test_sql_file_parser_never_raises(text: str) -> None:
    _positions_ok(text, bounded(lambda: parse_sql_file("models/x.sql", text)).problems)


@given(
    st.one_of(mutated(PY_SEEDS or [b"def model(dbt, session):\n    return None\n"]).map(as_text), ANY_TEXT)
)
def test_python_model_parser_never_raises(text: str) -> None:
    _positions_ok(text, bounded(lambda: parse_python_file("models/x.py", text)).problems)


@given(mutated(YAML_SEEDS + SQL_SEEDS))
def test_file_reader_answers_any_bytes(data: bytes) -> None:
    """read_project_file gives the text, or the text and FL008 (not UTF-8), or "" and why; never raises."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.sql"
        path.write_bytes(data)
        text, problem = bounded(lambda: read_project_file(str(path)))
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if problem is None:
        assert text.encode("utf-8") == body
    else:
        assert problem.code in {"FL008", "FL011"} and problem.message, problem
        assert text == "" or text == body.decode("utf-8", errors="replace")


_DURATION_PARTS = st.sampled_from(
    [
        "1",
        "45",
        "0",
        "1.5",
        "-1",
        "1e3",
        "99999999999999999999999",
        "h",
        "m",
        "M",
        "min",
        "µs",
        "days",
        "weeks",
        "yr",
        "x",
        " ",
        "  ",
        "\t",
        ".",
        "+",
        "1h",
        "30m",
        "\u00a0",
        "٣",
        "𝟙",
    ]
)
DURATIONS = st.one_of(st.lists(_DURATION_PARTS, max_size=6).map("".join), st.text(max_size=30))


@given(DURATIONS)
def test_duration_parser_raises_only_duration_error(source: str) -> None:
    try:
        d = bounded(lambda: parse_duration(source))
    except DurationError as exc:
        assert exc.reason and source in str(exc)
        return
    assert isinstance(d.seconds, int) and 0 <= d.seconds < 2**63
    portability_notes(source, d)
    format_seconds(d.seconds)


@given(st.integers(0, 10**12))
def test_formatted_duration_reads_back(seconds: int) -> None:
    """format_seconds writes what parse_duration reads: quick fixes never suggest an invalid value."""
    assert parse_duration(format_seconds(seconds)).seconds == seconds
