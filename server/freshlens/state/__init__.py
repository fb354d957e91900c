"""Deployment state for the planner: dbt artifact readers, the state store (an SQLite file, or a
PostgreSQL database for team state: ``open_store("postgresql://…")``), source freshness.

Typical use::

    from freshlens.state import StateStore, default_state_path, load_state

    with StateStore(default_state_path(project_root)) as store:
        report = store.ingest("prod-artifacts/2026-06-01T06-00")   # IngestReport; .summary() for the CLI
    snapshot = load_state(default_state_path(project_root))      # or load_state("path/to/target")

Every error meant for the user is a :class:`StateError` (:class:`ArtifactError`, :class:`StateStoreError`,
:class:`FreshnessError`) whose message says what to do; catch ``StateError`` at the CLI/LSP boundary.
See ``docs/state.md``.
"""

from freshlens.state.artifacts import (
    ArtifactError,
    Manifest,
    ManifestNode,
    ManifestSource,
    NodeFingerprint,
    Relation,
    StateError,
    normalised_code,
    read_catalog,
    read_freshness,
    read_freshness_artifact,
    read_manifest,
    read_run_results,
    read_sources,
)
from freshlens.state.backend import is_postgres_url, redact, resolve_state
from freshlens.state.freshness import (
    FreshnessError,
    SourceFreshnessNow,
    SourceSpec,
    current_freshness_from_file,
    live_duckdb_freshness,
    select_only_problem,
)
from freshlens.state.repair import StateStoreError, VerifyReport
from freshlens.state.snapshot import NodeState, SourceAtBuild, SourceObservation, SourceState, StateSnapshot
from freshlens.state.store import IngestReport, StateStore, default_state_path, load_state, open_store

__all__ = [
    "ArtifactError",
    "FreshnessError",
    "IngestReport",
    "Manifest",
    "ManifestNode",
    "ManifestSource",
    "NodeFingerprint",
    "NodeState",
    "Relation",
    "SourceAtBuild",
    "SourceFreshnessNow",
    "SourceObservation",
    "SourceSpec",
    "SourceState",
    "StateError",
    "StateSnapshot",
    "StateStore",
    "StateStoreError",
    "VerifyReport",
    "current_freshness_from_file",
    "default_state_path",
    "is_postgres_url",
    "live_duckdb_freshness",
    "load_state",
    "normalised_code",
    "open_store",
    "read_catalog",
    "read_freshness",
    "read_freshness_artifact",
    "read_manifest",
    "read_run_results",
    "read_sources",
    "redact",
    "resolve_state",
    "select_only_problem",
]
