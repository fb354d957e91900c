"""Ingest: what one run's parsed artifacts write into the state store's tables.

:meth:`StateStore.ingest <freshlens.state.store.StateStore.ingest>` reads and validates a run's
artifacts directory, opens the transaction and keeps the artifacts; the functions here write them, over
the store's :class:`~freshlens.state.backend.Connection` (SQLite's, or the PostgreSQL store's: the SQL is
the dialect both accept, with ``?`` placeholders). What each artifact contributes:

* ``run_results.json`` (+ the same run's ``manifest.json``, required with it): per node the last run's
  status and message, and — for a ``success`` of a model, seed or snapshot — the build time
  (``timing[execute].completed_at``) and the fingerprints of the code it was built from. Fusion's
  ``reused`` results update the status and reason only. Results of commands that build nothing
  (``dbt compile``, ``dbt docs generate``, ``dbt show`` …) are ignored: they report ``success`` too.
* ``manifest.json``: each node's name, file and parents, each source's relation and freshness spec,
  from the newest manifest that listed it.
* ``sources.json`` (optional, may be alone in the directory): one history row per source and run.
  dbt v2's ``freshness.json`` is read the same way (its source results; model SLA results are not kept).
* ``catalog.json`` (optional): whether each node's and source's relation exists, and its type.

Each artifact is first claimed in ``ingested`` (kind, invocation id, generated_at): one claimed before
is skipped, so ingesting the same artifacts twice changes nothing. Every row write carries its run's
time in a ``WHERE`` so that an older run ingested after a newer one never moves a build time, a status,
a description or a relation backwards. The :class:`IngestReport` counts the rows that did change.

Each kind of statement runs once over all its rows (``executemany``): on PostgreSQL that is a pipeline
instead of a network round trip per row (a 10,000-model run took 5–9 s that way). Rows of different
nodes never depend on each other, and one node's statements run in their kinds' order (its row is
inserted before its status is set), so the result is the same as row by row; the counts come from the
``rowcount`` of each batch, the total over its rows on both backends.

Times are stored as fixed-width UTC text (:func:`_ts`), so that comparing the text orders like time;
fingerprints and relations as the JSON :mod:`freshlens.state.reading` decodes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from freshlens.state.artifacts import (
    BUILT_TYPES,
    Catalog,
    Manifest,
    RunResults,
    SourcesArtifact,
    canonical_json,
)
from freshlens.state.backend import Connection
from freshlens.state.reading import fingerprint_to_json, relation_to_json

# Commands whose run_results list nodes as "success" without building anything.
NON_BUILDING_COMMANDS = frozenset(
    {"compile", "generate", "docs", "show", "list", "ls", "parse", "debug", "run-operation", "freshness"}
)


@dataclass(slots=True)
class IngestReport:
    """What one ``ingest`` did, for the CLI to print."""

    directory: str
    invocation_ids: list[str] = field(default_factory=list)
    read: list[str] = field(default_factory=list)  # artifact file names read
    already_ingested: list[str] = field(default_factory=list)  # artifacts skipped as duplicates
    built: int = 0  # successful builds recorded (newer than what the store knew)
    reused: int = 0  # Fusion "reused" results
    statuses: int = 0  # node statuses updated
    source_observations: int = 0
    relations: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.built or self.statuses or self.source_observations or self.relations)

    def summary(self) -> str:
        if not self.read or len(self.already_ingested) == len(self.read):
            return f"{self.directory}: already ingested, nothing changed"
        parts = [
            f"{self.built} build(s) recorded",
            f"{self.reused} reused",
            f"{self.statuses} status(es) updated",
            f"{self.source_observations} source observation(s)",
            f"{self.relations} relation(s)",
        ]
        return f"{self.directory}: " + ", ".join(parts)


def _ts(value: datetime) -> str:
    # Fixed-width UTC text so SQL string comparison orders like time.
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _opt_ts(value: datetime | None) -> str | None:
    return None if value is None else _ts(value)


def claim(
    db: Connection, kind: str, invocation_id: str, generated_at: datetime, source_dir: str, stamp: str
) -> bool:
    """Record that an artifact was ingested (at ``stamp``); False if it already was (idempotency)."""
    cur = db.execute(
        "INSERT INTO ingested (kind, invocation_id, generated_at, source_dir, ingested_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (kind, invocation_id, _ts(generated_at), source_dir, stamp),
    )
    return cur.rowcount == 1


def ingest_manifest(db: Connection, manifest: Manifest, report: IngestReport, stamp: str) -> None:
    """Describe the manifest's sources and nodes, unless a newer manifest described them already."""
    meta = manifest.meta
    report.read.append("manifest.json")
    if not claim(db, "manifest", meta.invocation_id, meta.generated_at, report.directory, stamp):
        report.already_ingested.append("manifest.json")
        return
    at = _ts(meta.generated_at)
    db.executemany(
        "INSERT INTO sources (unique_id, source_name, name, relation, loaded_at_field, loaded_at_query, "
        "freshness, described_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (unique_id) DO UPDATE SET source_name = excluded.source_name, name = excluded.name, "
        "relation = excluded.relation, loaded_at_field = excluded.loaded_at_field, "
        "loaded_at_query = excluded.loaded_at_query, freshness = excluded.freshness, "
        "described_at = excluded.described_at WHERE excluded.described_at >= sources.described_at",
        [
            (
                src.unique_id,
                src.source_name,
                src.name,
                canonical_json(relation_to_json(src.relation)),
                src.loaded_at_field,
                src.loaded_at_query,
                None if src.freshness is None else canonical_json(src.freshness),
                at,
            )
            for src in manifest.sources.values()
        ],
    )
    db.executemany(
        "INSERT INTO nodes (unique_id, resource_type, name, original_file_path, depends_on, described_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (unique_id) DO UPDATE SET "
        "resource_type = excluded.resource_type, name = excluded.name, "
        "original_file_path = excluded.original_file_path, depends_on = excluded.depends_on, "
        "described_at = excluded.described_at "
        "WHERE nodes.described_at IS NULL OR excluded.described_at >= nodes.described_at",
        [
            (
                node.unique_id,
                node.resource_type,
                node.name,
                node.original_file_path,
                json.dumps(list(node.fingerprint.depends_on_nodes)),
                at,
            )
            for node in manifest.nodes.values()
        ],
    )


def ingest_run(
    db: Connection,
    run: RunResults,
    manifest: Manifest,
    report: IngestReport,
    stamp: str,
    cleared_at: datetime | None,
) -> None:
    """Record each result's status and each successful build, unless a newer run's are stored.

    A run from before ``cleared_at`` (the store's last clear) is claimed but records nothing.
    """
    meta = run.meta
    report.read.append("run_results.json")
    report.invocation_ids.append(meta.invocation_id)
    if not claim(db, "run_results", meta.invocation_id, meta.generated_at, report.directory, stamp):
        report.already_ingested.append("run_results.json")
        return
    if run.command in NON_BUILDING_COMMANDS:
        report.notes.append(
            f"run_results.json comes from `dbt {run.command}`, which builds nothing; its statuses were ignored."
        )
        return
    if cleared_at is not None and meta.generated_at <= cleared_at:
        report.notes.append(
            f"run {meta.invocation_id} ran before the state was cleared ({_ts(cleared_at)}); its builds were ignored."
        )
        return
    run_at = _ts(meta.generated_at)
    unknown = 0
    known: list[tuple[str, str, str, str | None]] = []
    statuses: list[tuple[str, str | None, str, str, str, str]] = []
    builds: list[tuple[str, str, str, str, str]] = []
    for res in run.results:
        node = manifest.nodes.get(res.unique_id)
        if node is None:
            if res.unique_id.split(".", 1)[0] in BUILT_TYPES:
                unknown += 1
            continue
        known.append((node.unique_id, node.resource_type, node.name, node.original_file_path))
        statuses.append((res.status, res.message, run_at, meta.invocation_id, node.unique_id, run_at))
        if res.status == "reused":
            report.reused += 1
        if res.status == "success" and node.resource_type in BUILT_TYPES:
            built_at = _ts(res.completed_at or meta.generated_at)
            fingerprint = fingerprint_to_json(node.fingerprint)
            builds.append((built_at, meta.invocation_id, fingerprint, node.unique_id, built_at))
    # A node's row must exist before its status and build are set; rows do not depend on each other,
    # so each statement runs over all the nodes, in that order.
    db.executemany(
        "INSERT INTO nodes (unique_id, resource_type, name, original_file_path) "
        "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        known,
    )
    report.statuses += db.executemany(
        "UPDATE nodes SET last_status = ?, last_message = ?, last_run_at = ?, last_invocation_id = ? "
        "WHERE unique_id = ? AND (last_run_at IS NULL OR last_run_at <= ?)",
        statuses,
    ).rowcount
    report.built += db.executemany(
        "UPDATE nodes SET last_success_at = ?, last_success_invocation_id = ?, fingerprint = ? "
        "WHERE unique_id = ? AND (last_success_at IS NULL OR last_success_at < ?)",
        builds,
    ).rowcount
    if unknown:
        report.notes.append(
            f"{unknown} result(s) name nodes missing from manifest.json; is the manifest from the same run?"
        )


def ingest_sources(
    db: Connection, sources: SourcesArtifact, report: IngestReport, name: str, stamp: str
) -> None:
    """Add one history row per source observed (``name``: sources.json, or dbt v2's freshness.json)."""
    meta = sources.meta
    report.read.append(name)
    if meta.invocation_id not in report.invocation_ids:
        report.invocation_ids.append(meta.invocation_id)
    kind = "freshness" if name == "freshness.json" else "sources"
    if not claim(db, kind, meta.invocation_id, meta.generated_at, report.directory, stamp):
        report.already_ingested.append(name)
        return
    # A model's SLA result never feeds build/reuse (spec dbt-v2-freshness.md S1-S5): keep sources only.
    models = sum(1 for res in sources.results if res.resource_type != "source")
    if models:
        report.notes.append(f"{name}: {models} model SLA result(s) not stored (they never decide a build)")
    generated_at = _ts(meta.generated_at)
    report.source_observations += db.executemany(
        "INSERT INTO source_observations (source_id, invocation_id, generated_at, "
        "snapshotted_at, max_loaded_at, status, error) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [
            (
                res.unique_id,
                meta.invocation_id,
                generated_at,
                _opt_ts(res.snapshotted_at),
                _opt_ts(res.max_loaded_at),
                res.status,
                res.error,
            )
            for res in sources.results
            if res.resource_type == "source"
        ],
    ).rowcount


def ingest_catalog(
    db: Connection, catalog: Catalog, manifest: Manifest | None, report: IngestReport, stamp: str
) -> None:
    """Record whether each relation exists; one the same run's manifest knows but the catalog lacks is missing."""
    meta = catalog.meta
    report.read.append("catalog.json")
    if not claim(db, "catalog", meta.invocation_id, meta.generated_at, report.directory, stamp):
        report.already_ingested.append("catalog.json")
        return
    observed: dict[str, tuple[int, str | None]] = {
        uid: (1, entry.relation_type) for uid, entry in catalog.entries.items()
    }
    if manifest is not None:
        # A relation dbt knows about but the warehouse did not list is missing (D12).
        for node in manifest.nodes.values():
            if node.resource_type in BUILT_TYPES and node.fingerprint.materialized != "ephemeral":
                observed.setdefault(node.unique_id, (0, None))
        for uid in manifest.sources:
            observed.setdefault(uid, (0, None))
    at = _ts(meta.generated_at)
    report.relations += db.executemany(
        "INSERT INTO relations (unique_id, relation_exists, relation_type, observed_at, invocation_id) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (unique_id) DO UPDATE SET "
        "relation_exists = excluded.relation_exists, relation_type = excluded.relation_type, "
        "observed_at = excluded.observed_at, invocation_id = excluded.invocation_id "
        "WHERE excluded.observed_at >= relations.observed_at",
        [(uid, exists, rtype, at, meta.invocation_id) for uid, (exists, rtype) in observed.items()],
    ).rowcount
