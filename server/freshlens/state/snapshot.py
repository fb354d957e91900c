"""The deployment state the planner reads: plain frozen values, no I/O, no SQLite.

A :class:`StateSnapshot` is what :func:`freshlens.state.load_state` returns, whether it came from the state
store (``state.db``) or straight from one run's artifacts directory. The planner needs, per model:

* ``NodeState.last_success_at`` — end of the latest successful build (``timing[execute].completed_at`` of
  a ``success`` result; Fusion ``reused`` results do not move it), ``None`` if never built or cleared;
* ``NodeState.fingerprint`` — what that build was built from (code hashes, config hash, relation,
  materialization, depends_on, macro hashes, ``freshness`` and ``state`` blocks), to tell "code changed";
* ``NodeState.last_status`` / ``last_message`` — of the latest run that listed the node (``reused`` + reason);
* ``NodeState.relation_exists`` / ``relation_type`` — from ``catalog.json`` when one was ingested (D12);
* ``NodeState.failed_tests`` — data tests on the node whose latest result was ``fail``/``error`` (D13);
* ``NodeState.sources_at_build`` — for each direct source parent, the latest ``max_loaded_at`` known at the
  node's last build (:class:`SourceAtBuild`), so "new data since the last build" is
  ``current > sources_at_build[src].max_loaded_at``; ``None`` when nothing is known;

and per source the full history of observed ``max_loaded_at`` values (``SourceState.history``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import NamedTuple

from freshlens.state.artifacts import NodeFingerprint, Relation

FAILED_TEST_STATUSES = frozenset({"fail", "error"})


class SourceAtBuild(NamedTuple):
    """What a node's last build knew of one source parent's data.

    When the build's own run also measured freshness (``dbt build`` then ``dbt source freshness``), that
    reading stands in for what the build saw, with ``exact=False`` (data loaded in between would be
    missed). Otherwise the latest observation made at or before the build is used (``exact=True``).
    """

    max_loaded_at: datetime | None
    observed_at: datetime
    exact: bool


class NodeState(NamedTuple):
    """One node's deployment state (module docs). A named tuple: immutable, and quick to make by the
    ten thousand (a frozen dataclass took five times longer, measured on a plan's state read)."""

    unique_id: str
    resource_type: str  # model, seed, snapshot, test
    name: str
    original_file_path: str | None
    last_success_at: datetime | None
    last_success_invocation_id: str | None
    fingerprint: NodeFingerprint | None  # of the build at last_success_at
    last_status: str | None  # success, error, skipped, reused, pass, fail, …
    last_message: str | None
    last_run_at: datetime | None  # generated_at of the run that gave last_status
    last_invocation_id: str | None
    relation_exists: bool | None  # None: no catalog.json ingested and no build known
    relation_type: str | None  # "BASE TABLE" / "VIEW" (catalog), or inferred from the materialization
    relation_observed_at: datetime | None
    failed_tests: tuple[str, ...] = ()
    sources_at_build: Mapping[str, SourceAtBuild | None] = MappingProxyType({})


class SourceObservation(NamedTuple):
    """One ``sources.json`` result for a source."""

    max_loaded_at: datetime | None  # None for a runtime error
    snapshotted_at: datetime | None
    status: str  # pass, warn, error, runtime error
    error: str | None
    invocation_id: str
    generated_at: datetime

    @property
    def observed_at(self) -> datetime:
        return self.snapshotted_at or self.generated_at


class SourceState(NamedTuple):
    unique_id: str
    source_name: str | None
    name: str | None
    relation: Relation | None
    loaded_at_field: str | None
    loaded_at_query: str | None
    freshness: Mapping[str, object] | None
    history: tuple[SourceObservation, ...]  # oldest first
    relation_exists: bool | None = None
    relation_type: str | None = None

    @property
    def latest(self) -> SourceObservation | None:
        """The newest observation that measured a ``max_loaded_at``."""
        for obs in reversed(self.history):
            if obs.max_loaded_at is not None:
                return obs
        return None

    def at_build(
        self, built_at: datetime, same_run_invocations: frozenset[str] = frozenset()
    ) -> SourceAtBuild | None:
        """The observation a build at ``built_at`` saw; see :class:`SourceAtBuild`."""
        before = [o for o in self.history if o.max_loaded_at is not None and o.observed_at <= built_at]
        after = [
            o
            for o in self.history
            if o.max_loaded_at is not None
            and o.observed_at > built_at
            and o.invocation_id in same_run_invocations
        ]
        if after:
            # The usual deploy job runs `dbt build` then `dbt source freshness`: that run's own reading is
            # what the build read (spec sao.md §9 and C3 compare against it), newer than any earlier run's.
            first = min(after, key=lambda o: o.observed_at)
            return SourceAtBuild(first.max_loaded_at, first.observed_at, exact=False)
        if before:
            best = max(before, key=lambda o: o.observed_at)
            return SourceAtBuild(best.max_loaded_at, best.observed_at, exact=True)
        return None

    def max_loaded_at_as_of(self, when: datetime) -> datetime | None:
        """The latest ``max_loaded_at`` observed at or before ``when`` (None if none was)."""
        best: datetime | None = None
        for obs in self.history:
            if obs.max_loaded_at is not None and obs.observed_at <= when:
                best = obs.max_loaded_at if best is None else max(best, obs.max_loaded_at)
        return best


@dataclass(frozen=True, slots=True)
class StateSnapshot:
    origin: str  # the state.db path or the artifacts directory it was read from
    nodes: Mapping[str, NodeState]
    sources: Mapping[str, SourceState]
    cleared_at: datetime | None  # last "clear state" (D15); builds before it are forgotten
    last_run_at: datetime | None  # generated_at of the newest run_results ingested
    # where that run came from: its artifacts folder, or the origin given to ingest ("dbt platform job 1,
    # run 2", an s3:// URL)
    last_run_source: str | None = None
    notice: str | None = None  # what opening the store had to do (a damaged store rebuilt), for the user

    def node(self, unique_id: str) -> NodeState | None:
        return self.nodes.get(unique_id)

    def source(self, unique_id: str) -> SourceState | None:
        return self.sources.get(unique_id)

    @staticmethod
    def empty(origin: str = "") -> StateSnapshot:
        return StateSnapshot(origin=origin, nodes={}, sources={}, cleared_at=None, last_run_at=None)
