"""Issue 7: a model whose Jinja could not be rendered (FL012) takes its parents from its last build's
manifest when its code is unchanged, and says so; otherwise it keeps its static parents."""

from __future__ import annotations

from pathlib import Path

from freshlens.planner.core import BUILD

from .helpers import Scenario, ago

FILES = {
    "models/up.sql": "select 1 as id\n",
    "models/m.sql": "select * from {{ ref(var('which')) }}\n",  # no value, no default: FL012
}


def _scenario(tmp_path: Path, m_code: str | None = None) -> Scenario:
    s = Scenario(tmp_path, FILES)
    assert s.node("m").render is not None and not s.node("m").render.ok
    s.built("up", ago(hours=1))
    ns = s.built("m", ago(hours=3), code=m_code)
    assert ns.fingerprint is not None
    fp = ns.fingerprint._replace(depends_on_nodes=(s.uid("up"),))
    s.nodes[s.uid("m")] = ns._replace(fingerprint=fp)
    return s


def test_unchanged_code_takes_the_last_builds_parents(tmp_path: Path) -> None:
    s = _scenario(tmp_path)
    d = s.decide("m")
    assert s.node("m").state_parents == [s.uid("up")]
    assert d.action == BUILD  # up was rebuilt after m's last build: new data through the hidden edge
    assert [p.unique_id for p in d.parents] == [s.uid("up")]


def test_changed_code_keeps_the_static_parents(tmp_path: Path) -> None:
    s = _scenario(tmp_path, m_code="select * from {{ ref('up') }}\n")
    s.decide("m")
    assert s.node("m").state_parents == []
    assert s.node("m").parents == []


def test_a_second_plan_does_not_stack_parents(tmp_path: Path) -> None:
    s = _scenario(tmp_path)
    s.decide("m")
    s.decide("m")
    assert s.node("m").parents == [s.uid("up")]
