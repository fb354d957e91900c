"""dbt v2 model freshness rules (spec/dbt-v2-freshness.md): which engine a project is judged for (MV14),
and what the messages and severities then say. The per-code cases are in tests/fixtures/rules/FL30x.yml."""

from __future__ import annotations

from pathlib import Path

import pytest

from freshlens.model import Severity
from freshlens.rules.v2_resolve import BOTH, CORE, V2, engine_for
from freshlens.workspace import Workspace

MODEL_YML = """version: 2
models:
  - name: m
    config:
      materialized: ephemeral
      freshness:
        warn_after: {count: 24, period: hour}
"""


def load(tmp_path: Path, require: str | None) -> Workspace:
    head = "name: p\nversion: '1.0'\nprofile: p\n"
    if require is not None:
        head += f"require-dbt-version: {require}\n"
    (tmp_path / "models").mkdir(parents=True, exist_ok=True)
    (tmp_path / "dbt_project.yml").write_text(head)
    (tmp_path / "models" / "m.sql").write_text("select 1 as id\n")
    (tmp_path / "models" / "s.yml").write_text(MODEL_YML)
    ws = Workspace([str(tmp_path)])
    ws.load()
    return ws


@pytest.mark.parametrize(
    ("require", "engine"),
    [
        (None, BOTH),
        ('">=1.10.0"', BOTH),
        ('[">=1.10.0", "<2.0.0"]', CORE),
        ('">=1.8,<2"', CORE),
        ('"<=1.11.2"', CORE),
        ('"1.11.4"', CORE),
        ('"~=1.10"', CORE),
        ('"<2.0.1"', BOTH),
        ('">=2.0.0"', V2),
        ('[">=2.0.0", "<3.0.0"]', V2),
        ('"2.0.6"', V2),
        ("\"{{ env_var('V') }}\"", BOTH),
        ("[1, 2]", BOTH),
        ('"latest"', BOTH),
    ],
)
def test_mv14_engine_from_require_dbt_version(tmp_path: Path, require: str | None, engine: str) -> None:
    ws = load(tmp_path, require)
    idx = next(iter(ws.projects.values())).index
    assert engine_for(idx) == engine


def _fl304(ws: Workspace) -> tuple[Severity, str]:
    f = next(f for f in ws.all_findings() if f.code == "FL304")
    return f.severity, f.message


def test_mv14_messages_and_severities_per_engine(tmp_path: Path) -> None:
    sev, msg = _fl304(load(tmp_path / "both", None))
    assert sev is Severity.WARNING  # dbt Core parses it: check must not fail a project its dbt accepts
    assert msg.startswith("dbt v2: ephemeral model(s) m get a freshness SLA") and "dbt Core 1.x:" in msg

    sev, msg = _fl304(load(tmp_path / "v2", '">=2.0.0"'))
    assert sev is Severity.ERROR and "dbt Core" not in msg

    # on dbt Core the SLA is dropped silently: the v2 parse error is only what the upgrade will bring
    sev, msg = _fl304(load(tmp_path / "core", '"<2.0.0"'))
    assert sev is Severity.INFORMATION
    assert msg.startswith("dbt Core 1.x: the SLA keys are dropped silently. On the upgrade to dbt v2:")


def test_fl106_says_which_engine_drops_a_sla_key(tmp_path: Path) -> None:
    both = [f.message for f in load(tmp_path / "both", None).all_findings() if f.code == "FL106"]
    assert len(both) == 1 and "dbt Core 1.x drops `warn_after`" in both[0] and "dbt v2 reads" in both[0]
    core = [f.message for f in load(tmp_path / "core", '"<2"').all_findings() if f.code == "FL106"]
    assert len(core) == 1 and "dbt v2" not in core[0]
    assert not [f for f in load(tmp_path / "v2", '">=2"').all_findings() if f.code == "FL106"]


def test_g1_completion_offers_model_sla_keys_on_a_dbt_v2_project_only(tmp_path: Path) -> None:
    from freshlens.completion import complete

    def labels(ws: Workspace, rel: str, text: str) -> list[str]:
        idx = next(iter(ws.projects.values())).index
        assert idx is not None
        path = str(Path(idx.dir) / rel)
        lines = text.split("\n")
        return [i.label for i in complete(idx, path, text, len(lines) - 1, len(lines[-1])).items]

    yml = "version: 2\nmodels:\n  - name: m\n    config:\n      freshness:\n        "
    sql = "{{ config(freshness={'"
    v2 = load(tmp_path / "v2", '">=2.0.0"')
    assert labels(v2, "models/s.yml", yml)[:4] == ["build_after", "error_after", "filter", "warn_after"]
    assert "warn_after" in labels(v2, "models/m.sql", sql)
    assert labels(v2, "models/s.yml", yml + "warn_after:\n          ") == ["count", "period"]
    both = load(tmp_path / "both", None)
    assert labels(both, "models/s.yml", yml) == ["build_after"]
    assert labels(both, "models/m.sql", sql) == ["build_after"]


def test_mv14_the_engine_setting_overrides_require_dbt_version(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir(parents=True)
    (tmp_path / "dbt_project.yml").write_text(
        "name: p\nversion: '1.0'\nprofile: p\nrequire-dbt-version: '<2'\n"
    )
    (tmp_path / "models" / "m.sql").write_text("select 1 as id\n")
    (tmp_path / "models" / "s.yml").write_text(
        MODEL_YML.replace("warn_after: {count: 24, period: hour}", "warn_after: {count: 2, period: weeks}")
    )
    got = {}
    for engine in ("auto", "v2", "both"):
        ws = Workspace([str(tmp_path)])
        ws.engine = engine
        ws.load()
        got[engine] = {(f.code, f.severity) for f in ws.all_findings()}
    # auto: require-dbt-version says dbt Core, where the whole SLA is dropped before it is validated
    assert got["auto"] == {
        ("FL106", Severity.WARNING),
        ("FL304", Severity.INFORMATION),
        ("FL308", Severity.INFORMATION),
    }
    assert got["v2"] == {("FL304", Severity.ERROR), ("FL308", Severity.ERROR)}
    assert got["both"] == {
        ("FL106", Severity.WARNING),
        ("FL304", Severity.WARNING),
        ("FL308", Severity.WARNING),
    }


def test_check_engine_option(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    load(tmp_path, None)
    r = subprocess.run(
        [sys.executable, "-m", "freshlens", "check", "--engine", "v2", "--format", "json", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    codes = sorted(d["code"] for d in json.loads(r.stdout)["diagnostics"])
    assert codes == ["FL304"] and r.returncode == 1, r.stderr


def test_incremental_edits_match_a_full_reload(tmp_path: Path) -> None:
    """Findings anchored at a shared dbt_project.yml setting follow edits of a model's own files."""
    files = {
        "dbt_project.yml": (
            "name: p\nversion: '1.0'\nprofile: p\nmodels:\n  p:\n    +loaded_at_field: updated_at\n"
            "    +freshness:\n      warn_after: {count: 24, period: hour}\n"
        ),
        "models/a.sql": "select 1 as id\n",
        "models/b.sql": "{{ config(materialized='ephemeral') }}\nselect 1 as id\n",
        "models/s.yml": "version: 2\nmodels:\n  - name: a\n    config:\n      materialized: table\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    ws = Workspace([str(tmp_path)])
    ws.load()
    edits = [
        ("models/b.sql", "{{ config(loaded_at_field='') }}\nselect 1 as id\n"),  # a view without loaded_at
        (
            "models/a.sql",
            "{{ config(freshness={'build_after': {'count': 1, 'period': 'hour'}}) }}\nselect 1\n",
        ),
        ("models/b.sql", "{{ config(materialized='table', freshness=none) }}\nselect 1 as id\n"),
        ("models/s.yml", "version: 2\nmodels:\n  - name: a\n    config:\n      freshness: {}\n"),
        ("models/a.sql", "{{ config(materialized='ephemeral') }}\nselect 1\n"),
    ]
    for rel, text in edits:
        ws.update_file(str(tmp_path / rel), text)
        fresh = Workspace([str(tmp_path)], overlay=dict(ws.overlay))
        fresh.load()
        got = {p: sorted((f.code, f.loc.span, f.message) for f in v) for p, v in ws.findings().items() if v}
        want = {
            p: sorted((f.code, f.loc.span, f.message) for f in v) for p, v in fresh.findings().items() if v
        }
        assert got == want, rel


def test_hover_shows_the_v2_sla_and_how_it_is_measured(tmp_path: Path) -> None:
    from freshlens.hover import hover_markdown

    (tmp_path / "models").mkdir()
    (tmp_path / "dbt_project.yml").write_text(
        "name: p\nversion: '1.0'\nprofile: p\nmodels:\n  p:\n    +loaded_at_field: updated_at\n"
        "    +freshness:\n      warn_after: {count: 12, period: hour}\n"
    )
    (tmp_path / "models" / "m.sql").write_text("select 1 as id\n")
    yml = "version: 2\nmodels:\n  - name: m\n    config:\n      freshness:\n        error_after: {count: 2, period: day}\n"
    (tmp_path / "models" / "s.yml").write_text(yml)
    ws = Workspace([str(tmp_path)])
    ws.load()
    idx = next(iter(ws.projects.values())).index
    assert idx is not None
    md = hover_markdown(idx, str(tmp_path / "models" / "s.yml"), 4, 8)
    assert md is not None and "**freshness SLA (dbt v2)** of `m` — dbt Core 1.x ignores it" in md
    assert '- error_after: `{"count": 2, "period": "day"}`' in md
    assert "- warn_after: *not set*" in md  # the folder's warn_after is replaced whole (P2)
    assert "- measured by `max(updated_at)` from dbt_project.yml" in md  # the sibling is inherited (P3)
    on_key = hover_markdown(idx, str(tmp_path / "dbt_project.yml"), 5, 6)
    assert on_key is not None and on_key.startswith("**freshness SLA (dbt v2)**")
    v2 = hover_markdown(idx, str(tmp_path / "models" / "s.yml"), 4, 8, engine="v2")
    assert v2 is not None and "**freshness SLA (dbt v2)** of `m`\n" in v2  # the engine setting: no Core note
    core = hover_markdown(idx, str(tmp_path / "models" / "s.yml"), 4, 8, engine="core")
    assert core is not None and "freshness SLA" not in core


def test_a_correct_dbt_v2_sla_setup_has_no_findings(tmp_path: Path) -> None:
    """Every documented v2 shape (G2, G3): folder SLA, sibling loaded_at_* in YAML and SQL, filter, build_after.

    (A model under the marts folder that set its own freshness or loaded_at_query would rightly get
    FL311/FL303: v2 replaces the block whole and keeps both loaded_at_* across levels.)"""
    files = {
        "dbt_project.yml": (
            "name: p\nversion: '1.0'\nprofile: p\nrequire-dbt-version: '>=2.0.0'\nmodels:\n  p:\n"
            "    +materialized: table\n    marts:\n      +loaded_at_field: updated_at\n      +freshness:\n"
            "        build_after: {count: 4, period: hour}\n        warn_after: {count: 24, period: hour}\n"
            "        error_after: {count: 48, period: hour}\n"
        ),
        "models/marts/a.sql": "select 1 as id, current_timestamp as updated_at\n",
        "models/b.sql": (
            '{{ config(materialized="view", loaded_at_query="select max(updated_at) from {{ this }}", '
            'freshness={"warn_after": {"count": 1, "period": "day"}}) }}\nselect 1 as id\n'
        ),
        "models/c.sql": "select 1 as id\n",
        "models/s.yml": (
            "version: 2\nmodels:\n  - name: c\n    config:\n      loaded_at_field: loaded_at\n      freshness:\n"
            "        build_after: {count: 4, period: hour}\n        warn_after: {count: 24, period: hour}\n"
            "        error_after: {count: 48, period: hour}\n        filter: \"region = 'us'\"\n"
        ),
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    ws = Workspace([str(tmp_path)])
    ws.load()
    assert [(f.code, f.message) for f in ws.all_findings()] == []
