"""Reading a state store's tables into a :class:`~freshlens.state.snapshot.StateSnapshot`.

Shared by the SQLite and the PostgreSQL store (the SQL is the dialect both accept; rows are read by
position). This is the first step of every plan — ``freshlens run`` reads the whole state of a
10,000-model project before it starts dbt — so it is written for speed, each choice measured on that
project (``bench/planstate.py``):

* the nodes are read with their columns named in the query and unpacked by position, not looked up by
  name per field;
* the JSON columns (a fingerprint per built node, a relation per source) are decoded in one
  ``json.loads`` call over all rows rather than one call each, which halves their decoding (the
  per-call set-up was half the cost); a row that does not decode is then decoded on its own;
* the values are named tuples (:class:`NodeState`, :class:`NodeFingerprint` …), five times quicker
  to make than frozen dataclasses;
* what a build saw of its source parents is worked out once per (source, build time, run) and shared
  by the nodes of that run;
* failed data tests are selected by SQL, not by reading every test's row in Python.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from freshlens.state.artifacts import NodeFingerprint, Relation, canonical_json, parse_timestamp
from freshlens.state.snapshot import (
    FAILED_TEST_STATUSES,
    NodeState,
    SourceAtBuild,
    SourceObservation,
    SourceState,
    StateSnapshot,
)

Query = Callable[[str], Iterable[Sequence[Any]]]  # SQL -> its rows as tuples (each store gives its own)

_NODE_COLUMNS = (
    "unique_id, resource_type, name, original_file_path, last_success_at, last_success_invocation_id, "
    "fingerprint, last_status, last_message, last_run_at, last_invocation_id"
)


def relation_to_json(rel: Relation) -> dict[str, str | None]:
    return {
        "database": rel.database,
        "schema": rel.schema,
        "identifier": rel.identifier,
        "relation_name": rel.relation_name,
    }


def relation_from_json(data: dict[str, Any]) -> Relation:
    return Relation(
        data.get("database"), data.get("schema"), data.get("identifier"), data.get("relation_name")
    )


def fingerprint_to_json(fp: NodeFingerprint) -> str:
    """A fingerprint as the store keeps it since schema v3: a JSON array in :class:`NodeFingerprint`'s
    field order (the relation an array too; ``freshness``/``state`` objects with sorted keys).

    Positional, because a plan decodes every node's fingerprint first: an array decodes in half the
    time of an object with named fields, and is a third shorter to read (measured on 10,000 nodes).
    Rows written before v3 are objects with named fields; both forms are read.
    """
    return canonical_json(
        [
            fp.raw_code_sha256,
            fp.normalised_code_sha256,
            fp.checksum,
            fp.config_sha256,
            fp.materialized,
            list(fp.relation),
            list(fp.depends_on_nodes),
            list(fp.depends_on_macros),
            [list(pair) for pair in fp.macro_hashes],
            fp.freshness,
            fp.state,
            [list(pair) for pair in fp.ephemeral_code],
        ]
    )


def _pairs(items: list[Any] | None) -> tuple[tuple[str, str], ...]:
    return tuple((str(a), str(b)) for a, b in items) if items else ()


def fingerprint_from_value(v: Any) -> NodeFingerprint:
    """A stored fingerprint, decoded: the array form (schema v3) or the named form written before."""
    if isinstance(v, list):
        if len(v) != len(NodeFingerprint._fields):
            raise ValueError(f"a stored fingerprint has {len(v)} fields, not {len(NodeFingerprint._fields)}")
        rel = v[5]
        return NodeFingerprint(
            v[0], v[1], v[2], v[3], v[4],
            Relation(rel[0], rel[1], rel[2], rel[3]),
            tuple(v[6]), tuple(v[7]), _pairs(v[8]), v[9], v[10], _pairs(v[11]),
        )  # fmt: skip
    rel = v["relation"]
    return NodeFingerprint(
        v["raw_code_sha256"],
        v["normalised_code_sha256"],
        v["checksum"],
        v["config_sha256"],
        v["materialized"],
        Relation(rel.get("database"), rel.get("schema"), rel.get("identifier"), rel.get("relation_name")),
        tuple(v["depends_on_nodes"]),
        tuple(v["depends_on_macros"]),
        _pairs(v["macro_hashes"]),
        v["freshness"],
        v["state"],
        _pairs(v.get("ephemeral_code")),
    )


def json_many(texts: list[str]) -> list[Any]:
    """``[json.loads(t) for t in texts]`` in one decoder call (module docs).

    A text that is not one JSON value (damaged, or two values ``{..},{..}`` that would shift the rest)
    makes it decode them one by one, so the error is that row's own.
    """
    if not texts:
        return []
    try:
        decoded = json.loads("[" + ",".join(texts) + "]")
    except ValueError:
        decoded = None
    if not isinstance(decoded, list) or len(decoded) != len(texts):
        return [json.loads(t) for t in texts]
    return decoded


def fingerprints_from_json(texts: list[str]) -> list[NodeFingerprint]:
    """Decode many fingerprints at once (module docs)."""
    return [fingerprint_from_value(v) for v in json_many(texts)]


def opt_time(value: str | None) -> datetime | None:
    return None if value is None else parse_timestamp(value)


def _relations(query: Query) -> dict[str, tuple[bool, str | None, str]]:
    """Unique id -> (exists, type, observed at) from the latest catalog.json that listed the relation."""
    return {
        uid: (bool(exists), rtype, observed)
        for uid, exists, rtype, observed in query(
            "SELECT unique_id, relation_exists, relation_type, observed_at FROM relations"
        )
    }


def read_sources(query: Query, relations: dict[str, tuple[bool, str | None, str]]) -> dict[str, SourceState]:
    """Every source the store knows, described or only observed, with its observation history."""
    history: dict[str, list[SourceObservation]] = {}
    for sid, max_loaded, snapshotted, status, error, invocation, generated in query(
        "SELECT source_id, max_loaded_at, snapshotted_at, status, error, invocation_id, generated_at "
        "FROM source_observations ORDER BY COALESCE(snapshotted_at, generated_at), generated_at"
    ):
        history.setdefault(sid, []).append(
            SourceObservation(
                opt_time(max_loaded),
                opt_time(snapshotted),
                status,
                error,
                invocation,
                parse_timestamp(generated),
            )
        )
    rows = list(
        query(
            "SELECT unique_id, source_name, name, relation, loaded_at_field, loaded_at_query, freshness "
            "FROM sources"
        )
    )
    blocks = iter(json_many([row[6] for row in rows if row[6] is not None]))
    specs = {
        row[0]: (row, relation, None if row[6] is None else next(blocks))
        for row, relation in zip(rows, json_many([row[3] for row in rows]), strict=True)
    }
    sources: dict[str, SourceState] = {}
    for uid in sorted(specs.keys() | history.keys()):
        spec = specs.get(uid)
        exists, rtype, _ = relations.get(uid, (None, None, ""))
        if spec is None:
            sources[uid] = SourceState(
                uid, None, None, None, None, None, None, tuple(history.get(uid, ())), exists, rtype
            )
            continue
        (_, source_name, name, _, field, loaded_query, _), relation, freshness = spec
        sources[uid] = SourceState(
            uid,
            source_name,
            name,
            relation_from_json(relation),
            field,
            loaded_query,
            freshness,
            tuple(history.get(uid, ())),
            exists,
            rtype,
        )
    return sources


def _same_dir_invocations(query: Query) -> dict[str, frozenset[str]]:
    """Which invocations (a build's, a freshness run's) came in the same artifacts folder as each one."""
    dirs: dict[str, set[str]] = {}
    for source_dir, invocation in query("SELECT source_dir, invocation_id FROM ingested"):
        dirs.setdefault(source_dir, set()).add(invocation)
    same_dir: dict[str, frozenset[str]] = {}
    for invocations in dirs.values():
        together = frozenset(invocations)
        for inv in invocations:
            same_dir[inv] = same_dir.get(inv, frozenset()) | together
    return same_dir


def _failed_tests(query: Query) -> dict[str, tuple[str, ...]]:
    """Node id -> the data tests on it whose latest result failed (spec sao.md D13)."""
    marks = ", ".join(f"'{s}'" for s in sorted(FAILED_TEST_STATUSES))
    failed: dict[str, list[str]] = {}
    for test_id, depends_on in query(
        f"SELECT unique_id, depends_on FROM nodes WHERE resource_type = 'test' AND last_status IN ({marks})"
    ):
        for parent in json.loads(depends_on):
            failed.setdefault(parent, []).append(test_id)
    return {uid: tuple(sorted(tests)) for uid, tests in failed.items()}


def read_nodes(
    query: Query,
    relations: dict[str, tuple[bool, str | None, str]],
    sources: dict[str, SourceState],
    same_dir: dict[str, frozenset[str]],
) -> dict[str, NodeState]:
    """Every node the store knows, with its last build's fingerprint and what that build saw of its sources."""
    failed = _failed_tests(query)
    rows = list(query(f"SELECT {_NODE_COLUMNS} FROM nodes ORDER BY unique_id"))
    prints = iter(fingerprints_from_json([row[6] for row in rows if row[6] is not None]))
    seen: dict[tuple[str, datetime, str | None], SourceAtBuild | None] = {}  # (source, build, run) -> saw
    nodes: dict[str, NodeState] = {}
    for uid, rtype, name, path, success, success_inv, fp_text, status, message, run_at, inv in rows:
        fp = None if fp_text is None else next(prints)
        last_success = None if success is None else parse_timestamp(success)
        rel = relations.get(uid)
        exists, kind = (None, None) if rel is None else rel[:2]
        observed = None if rel is None else parse_timestamp(rel[2])
        if last_success is not None and fp is not None and (observed is None or observed < last_success):
            # A build after the last catalog look created the relation.
            exists = True
            kind = "VIEW" if fp.materialized == "view" else "BASE TABLE"
        at_build: dict[str, SourceAtBuild | None] = {}
        if fp is not None and last_success is not None:
            for parent in fp.depends_on_nodes:
                if parent.startswith("source."):
                    key = (parent, last_success, success_inv)
                    if key not in seen:
                        src = sources.get(parent)
                        same_run = same_dir.get(success_inv or "", frozenset())
                        seen[key] = None if src is None else src.at_build(last_success, same_run)
                    at_build[parent] = seen[key]
        nodes[uid] = NodeState(
            uid,
            rtype,
            name,
            path,
            last_success,
            success_inv,
            fp,
            status,
            message,
            None if run_at is None else parse_timestamp(run_at),
            inv,
            exists,
            kind,
            observed,
            failed.get(uid, ()),
            at_build,
        )
    return nodes


def read_snapshot(query: Query, origin: str, cleared_at: datetime | None) -> StateSnapshot:
    """The whole state the planner reads, from the store's tables (one consistent read is the caller's)."""
    relations = _relations(query)
    sources = read_sources(query, relations)
    nodes = read_nodes(query, relations, sources, _same_dir_invocations(query))
    last_run = next(
        iter(
            query(
                "SELECT generated_at, source_dir FROM ingested WHERE kind = 'run_results' "
                "ORDER BY generated_at DESC LIMIT 1"
            )
        ),
        None,
    )
    return StateSnapshot(
        origin=origin,
        nodes=nodes,
        sources=sources,
        cleared_at=cleared_at,
        last_run_at=None if last_run is None else opt_time(last_run[0]),
        last_run_source=None if last_run is None else last_run[1],
    )
