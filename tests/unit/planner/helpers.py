"""A small builder for planner scenarios: a tiny project on disk, a hand-made state, a clock.

Each scenario reads: given files, state (who was built when, from what code, having seen which source
data), current source freshness and a time → the planner's action, reason string and rule.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from freshlens.index import Node, ProjectIndex
from freshlens.planner.code_change import raw_code
from freshlens.planner.core import Decision, PlanInputs
from freshlens.planner.plan import plan
from freshlens.state.artifacts import NodeFingerprint, Relation, normalised_code
from freshlens.state.freshness import ALWAYS_NEW, MEASURED, UNKNOWN, SourceFreshnessNow
from freshlens.state.snapshot import NodeState, SourceAtBuild, StateSnapshot
from freshlens.workspace import Workspace

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def ago(**kw: float) -> datetime:
    """``NOW`` minus a timedelta: ``ago(hours=1)``."""
    return NOW - timedelta(**kw)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


PROJECT = "name: p\nversion: '1.0'\nprofile: p\n"


class Scenario:
    """A project in ``root`` plus the state and freshness the planner will see."""

    def __init__(self, root: Path, files: Mapping[str, str], project_yml: str = PROJECT) -> None:
        self.root = root
        all_files = {"dbt_project.yml": project_yml, **files}
        for rel, text in all_files.items():
            f = root / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(text, encoding="utf-8")
        ws = Workspace([str(root)])
        ws.load()
        (proj,) = ws.projects.values()
        assert proj.index is not None
        self.index: ProjectIndex = proj.index
        self.nodes: dict[str, NodeState] = {}
        self.freshness: dict[str, SourceFreshnessNow] = {}
        self.freshness_origin = "sources.json"
        self.cleared_at: datetime | None = None
        # unique id -> the code of the last build, as the last run's manifest.json would give it
        self.recorded: dict[str, str] = {}

    # ---------------------------------------------------------------- lookups

    def node(self, name: str) -> Node:
        for n in self.index.nodes.values():
            if n.name == name:
                return n
        raise KeyError(name)

    def uid(self, name: str) -> str:
        if name.startswith(("source.", "model.", "seed.", "snapshot.")):
            return name
        if "." in name:  # "raw.t" → a source
            return f"source.{self.index.name}.{name}"
        return self.node(name).unique_id

    def text(self, name: str) -> str:
        n = self.node(name)
        assert n.path is not None
        return Path(n.path).read_text(encoding="utf-8")

    # ---------------------------------------------------------------- state

    def fingerprint(
        self, name: str, code: str | None = None, materialized: str | None = None
    ) -> NodeFingerprint:
        """The fingerprint of a build from ``code`` (default: the file as it is now)."""
        n = self.node(name)
        raw = raw_code(n, code if code is not None else self.text(name))
        mat = materialized if materialized is not None else n.materialized
        return NodeFingerprint(
            raw_code_sha256=sha(raw),
            normalised_code_sha256=sha(normalised_code(raw)),
            checksum=f"sha256:{sha(raw)}",
            config_sha256="",
            materialized=mat if isinstance(mat, str) else None,
            relation=Relation("db", "main", n.name, f'"db"."main"."{n.name}"'),
            depends_on_nodes=tuple(n.parents),
            depends_on_macros=(),
            macro_hashes=(),
            freshness=None,
            state=None,
        )

    def built(
        self,
        name: str,
        at: datetime | None,
        *,
        code: str | None = None,
        materialized: str | None = None,
        saw: Mapping[str, datetime | None] | None = None,
        relation_exists: bool | None = True,
        failed_tests: tuple[str, ...] = (),
        keep_code: bool = True,
    ) -> NodeState:
        """Record that ``name`` last built successfully at ``at`` (None: listed but never succeeded),
        from ``code`` (default: unchanged), having seen source data ``saw`` ({"raw.t": max_loaded_at}).
        ``keep_code``: the build's code is at hand (its manifest.json is still there)."""
        n = self.node(name)
        self.recorded.pop(n.unique_id, None)
        if at and keep_code:
            self.recorded[n.unique_id] = raw_code(n, code if code is not None else self.text(name))
        ns = NodeState(
            unique_id=n.unique_id,
            resource_type=n.resource_type,
            name=n.name,
            original_file_path=n.path,
            last_success_at=at,
            last_success_invocation_id="inv" if at else None,
            fingerprint=self.fingerprint(name, code, materialized) if at else None,
            last_status="success" if at else "error",
            last_message=None,
            last_run_at=at,
            last_invocation_id="inv",
            relation_exists=relation_exists,
            relation_type=None,
            relation_observed_at=at,
            failed_tests=failed_tests,
            sources_at_build={
                self.uid(s): (SourceAtBuild(t, at, exact=True) if t is not None and at else None)
                for s, t in (saw or {}).items()
            },
        )
        self.nodes[n.unique_id] = ns
        return ns

    def fresh(
        self, source: str, max_loaded_at: datetime | None, status: str = MEASURED, note: str = ""
    ) -> None:
        """Current freshness of a source ("raw.t")."""
        uid = self.uid(source)
        if max_loaded_at is None and status == MEASURED:
            status = UNKNOWN
        self.freshness[uid] = SourceFreshnessNow(uid, max_loaded_at, status, note)

    def always_new(self, source: str, note: str = "view without loaded_at_*: D6.1") -> None:
        self.fresh(source, None, ALWAYS_NEW, note)

    # ---------------------------------------------------------------- run

    def state(self) -> StateSnapshot:
        return StateSnapshot(
            origin="test",
            nodes=dict(self.nodes),
            sources={},
            cleared_at=self.cleared_at,
            last_run_at=max((n.last_run_at for n in self.nodes.values() if n.last_run_at), default=None),
        )

    def plan(self, regime: str = "sao", at: datetime = NOW) -> dict[str, Decision]:
        texts = {
            n.path: Path(n.path).read_text(encoding="utf-8") for n in self.index.nodes.values() if n.path
        }
        out = plan(
            PlanInputs(
                self.index,
                self.state(),
                self.freshness,
                at,
                regime,
                texts,
                self.freshness_origin,
                dict(self.recorded),
            )
        )
        return {self.index.nodes[uid].name: d for uid, d in out.items()}

    def decide(self, name: str, regime: str = "sao", at: datetime = NOW) -> Decision:
        return self.plan(regime, at)[name]


def expect(d: Decision, action: str, reason: str | None = None, rule: str | None = None) -> None:
    """Assert action (and reason/rule when given), with the whole decision in the failure message."""
    got = (d.action, d.reason, d.rule)
    want = (action, reason if reason is not None else d.reason, rule if rule is not None else d.rule)
    assert got == want, (
        f"{d.name}: got {got}, want {want}; short={d.short!r} notes={d.notes} missing={d.missing}"
    )
