"""Readers for the dbt artifacts freshlens learns deployment state from.

Supported versions (spec sao.md §8, dbt-core-oracle.md §3):

* ``manifest.json`` — ``https://schemas.getdbt.com/dbt/manifest/v12.json`` (dbt-core 1.8+ and Fusion)
* ``run_results.json`` — ``…/dbt/run-results/v6.json`` (dbt-core 1.8+; Fusion adds ``status: "reused"``)
* ``sources.json`` — ``…/dbt/sources/v3.json`` (both the normal and the ``runtime error`` result shape;
  dbt-core's lower-case statuses and dbt v2's ``Pass``/``Warn``/``Error``)
* ``freshness.json`` — ``…/dbt/freshness/v0.json`` (dbt v2 ``dbt freshness``: sources and models with an
  SLA, each result with its ``resource_type``; spec dbt-v2-freshness.md §5)
* ``catalog.json`` — ``…/dbt/catalog/v1.json`` (optional; tells whether a relation exists and its type)

Every reader returns frozen values holding only what the planner needs, and raises
:class:`ArtifactError` — with a message that says what to do — for a missing, corrupt or unsupported
file. Nothing here touches the network or the warehouse.

Public API::

    read_manifest(path) -> Manifest
    read_run_results(path) -> RunResults
    read_sources(path) -> SourcesArtifact
    read_freshness(path) -> SourcesArtifact        # freshness.json
    read_freshness_artifact(path) -> SourcesArtifact  # either file, told apart by its schema URL
    read_catalog(path) -> Catalog
    normalised_code(text) -> str          # comments removed, whitespace collapsed
    parse_timestamp(text) -> datetime     # aware, UTC
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from freshlens.project.reading import read_bytes

SCHEMAS_URL = "https://schemas.getdbt.com/dbt/"

# artifact name in the schema URL -> (supported version, dbt releases that write it)
SUPPORTED_VERSIONS: dict[str, tuple[int, str]] = {
    "manifest": (12, "dbt-core 1.8 or later, or dbt Fusion"),
    "run-results": (6, "dbt-core 1.8 or later, or dbt Fusion"),
    "sources": (3, "dbt-core 1.5 or later, or dbt Fusion"),
    "freshness": (0, "dbt v2 `dbt freshness`"),
    "catalog": (1, "any dbt-core since 0.20, or dbt Fusion"),
}

# Resource types whose builds the state store tracks; tests are kept for "failed a data test" (D13).
BUILT_TYPES = frozenset({"model", "seed", "snapshot"})
TRACKED_TYPES = BUILT_TYPES | {"test"}

# Keys left out of the config fingerprint: dbt State's excluded keys (spec sao.md Q11, dbt-state.md §4 C4)
# plus the two blocks the planner reads on their own.
CONFIG_EXCLUDED_KEYS = frozenset({"tags", "group", "static_analysis", "schema", "database", "alias"})
CONFIG_SEPARATE_KEYS = frozenset({"freshness", "state"})


class StateError(Exception):
    """Base of every error the state package reports; the message is meant for the user as is."""


class ArtifactError(StateError):
    """A dbt artifact is missing, unreadable, malformed or of an unsupported version."""


JSONDict = dict[str, Any]


class Relation(NamedTuple):
    """Where a node or source lives in the warehouse, as dbt wrote it in the manifest.

    A named tuple, as :class:`NodeFingerprint`: immutable, and five times quicker to make than a frozen
    dataclass, which counts when a plan reads 10,000 of them from the state.
    """

    database: str | None
    schema: str | None
    identifier: str | None  # alias for nodes, identifier for sources
    relation_name: str | None  # dbt's rendered, quoted name, e.g. '"tiny"."main"."stg_orders"'

    def __str__(self) -> str:
        if self.relation_name:
            return self.relation_name
        return ".".join(p for p in (self.database, self.schema, self.identifier) if p)


class NodeFingerprint(NamedTuple):
    """What a node was built from: compared against the project now to tell 'code changed'."""

    raw_code_sha256: str
    normalised_code_sha256: str  # comments and whitespace do not count (spec sao.md Q1)
    checksum: str  # dbt's own checksum as "name:value" (seeds: file contents)
    config_sha256: str  # unrendered_config minus CONFIG_EXCLUDED_KEYS and CONFIG_SEPARATE_KEYS
    materialized: str | None
    relation: Relation
    depends_on_nodes: tuple[str, ...]
    depends_on_macros: tuple[str, ...]
    macro_hashes: tuple[tuple[str, str], ...]  # (macro id, sha256 of macro_sql), transitively, sorted
    freshness: JSONDict | None  # config.freshness as dbt normalised it
    state: JSONDict | None  # config.state (dbt State block), verbatim
    # (unique id, sha256 of raw_code) of the ephemeral models inlined into this node, transitively:
    # their SQL is part of this node's compiled SQL, and they are never built themselves
    ephemeral_code: tuple[tuple[str, str], ...] = ()

    @property
    def macros_sha256(self) -> str:
        """One hash over every upstream macro body: differs when any of them changed, appeared or went."""
        return _sha256(json.dumps(self.macro_hashes))


@dataclass(frozen=True, slots=True)
class ManifestNode:
    unique_id: str
    resource_type: str
    name: str
    package: str
    original_file_path: str
    language: str | None
    fingerprint: NodeFingerprint
    raw_code: str = ""  # the code itself: lets the planner compare two versions' SQL structure


@dataclass(frozen=True, slots=True)
class ManifestSource:
    unique_id: str
    source_name: str
    name: str
    relation: Relation
    loaded_at_field: str | None
    loaded_at_query: str | None
    freshness: JSONDict | None  # {warn_after, error_after, filter} or None

    @property
    def filter(self) -> str | None:
        value = (self.freshness or {}).get("filter")
        return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class ArtifactMeta:
    path: str
    schema_version: int
    dbt_version: str
    generated_at: datetime
    invocation_id: str


@dataclass(frozen=True, slots=True)
class Manifest:
    meta: ArtifactMeta
    project_name: str | None
    adapter_type: str | None
    nodes: Mapping[str, ManifestNode]
    sources: Mapping[str, ManifestSource]
    macro_hashes: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class RunResult:
    unique_id: str
    status: str  # success, error, skipped, pass, fail, warn, no-op, partial success; Fusion: reused
    message: str | None  # for Fusion "reused": the reason text (spec sao.md §2)
    completed_at: datetime | None  # timing[name=execute].completed_at
    relation_name: str | None


@dataclass(frozen=True, slots=True)
class RunResults:
    meta: ArtifactMeta
    command: str | None  # args.which: build, run, seed, snapshot, test, compile, generate, …
    results: tuple[RunResult, ...]


class SourceFreshnessResult(NamedTuple):
    unique_id: str
    max_loaded_at: datetime | None
    snapshotted_at: datetime | None
    status: str  # pass, warn, error, runtime error (lower-case whatever the engine wrote)
    error: str | None
    resource_type: str = "source"  # freshness.json also holds "model" (an SLA result, display only)


@dataclass(frozen=True, slots=True)
class SourcesArtifact:
    meta: ArtifactMeta
    results: tuple[SourceFreshnessResult, ...]


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    unique_id: str
    relation_type: str  # "BASE TABLE", "VIEW", … as the warehouse reports it
    database: str | None
    schema: str | None
    name: str | None


@dataclass(frozen=True, slots=True)
class Catalog:
    meta: ArtifactMeta
    entries: Mapping[str, CatalogEntry]  # nodes and sources that exist in the warehouse


# --------------------------------------------------------------------------------------------- helpers


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_json(value: object) -> str:
    """Stable JSON for hashing and storage: sorted keys, no whitespace."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


@lru_cache(maxsize=65536)
def parse_timestamp(text: str) -> datetime:
    """Parse dbt's ISO-8601 timestamps (``…Z`` or ``…+00:00``) to an aware UTC datetime.

    A timestamp without an offset is taken as UTC: dbt writes UTC everywhere (spec sao.md Q17).
    Remembered per text (a datetime is immutable): a state of 10,000 nodes repeats its runs' times.
    """
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


_CODE_TOKENS = re.compile(
    r"""
      '(?:[^']|'')*'          # SQL string literal ('' escapes)
    | "(?:[^"]|"")*"          # quoted identifier
    | --[^\n]*                # line comment
    | /\*.*?(?:\*/|\Z)        # block comment
    | \{\#.*?(?:\#\}|\Z)      # Jinja comment
    """,
    re.VERBOSE | re.DOTALL,
)


def normalised_code(text: str) -> str:
    """Code with ``--``, ``/* */`` and ``{# #}`` comments removed and whitespace collapsed.

    Quoted strings and identifiers are kept as written, so ``'--'`` in a literal is not a comment.
    Two versions of a model with the same normalised code differ only in comments or whitespace.

    >>> normalised_code("select 1 -- one\\n  /* two */ , '--x'  {# three #}")
    "select 1 , '--x'"
    """

    def keep_literals(match: re.Match[str]) -> str:
        token = match.group(0)
        return token if token[0] in "'\"" else " "

    return " ".join(_CODE_TOKENS.sub(keep_literals, text).split())


def _load_json(path: Path, label: str) -> JSONDict:
    try:
        raw = read_bytes(str(path), None)  # artifacts are generated and can be large: no size limit
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise ArtifactError(
                f"{path}: {label} not found. Copy it from the run's target/ directory."
            ) from None
        raise ArtifactError(f"{path}: cannot read {label}: {exc.strerror or exc}.") from None
    try:
        data = json.loads(raw)
    except RecursionError:
        raise ArtifactError(f"{path}: {label} nests JSON too deeply to be a dbt artifact.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise ArtifactError(
            f"{path}: {label} is not valid JSON{where}; the file may be truncated or still being written. "
            "Copy it again from the run's target/ directory."
        ) from None
    if not isinstance(data, dict):
        raise ArtifactError(f"{path}: {label} should hold a JSON object, found {type(data).__name__}.")
    if _SURROGATE_ESCAPE.search(raw):
        _replace_lone_surrogates(data)
    return data


# JSON may escape half of a UTF-16 pair ("\ud800") on its own, and json.loads also lets the same
# half through as raw bytes (ED A0 80, as CESU-8 writers emit); such a string cannot be stored (SQLite
# and every encoder refuse it), so it becomes U+FFFD. Found by tests/fuzz. Real pairs decode whole.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


def _replace_lone_surrogates(data: JSONDict) -> None:
    def fix(s: str) -> str:
        return s.encode("utf-16", "surrogatepass").decode("utf-16", "replace")

    todo: list[Any] = [data]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            for k in list(node):
                v = node.pop(k) if isinstance(k, str) and fix(k) != k else node[k]
                k2 = fix(k) if isinstance(k, str) else k
                node[k2] = fix(v) if isinstance(v, str) else v
                todo.append(v)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                if isinstance(v, str):
                    node[i] = fix(v)
                else:
                    todo.append(v)


class _Reader:
    """Typed access to one artifact's JSON, with errors that name the file and the field."""

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.label = label

    def fail(self, where: str, problem: str) -> ArtifactError:
        return ArtifactError(
            f"{self.path}: {self.label} field `{where}` {problem}. The file does not look like a dbt artifact; "
            "copy it again from the run's target/ directory."
        )

    def obj(self, value: object, where: str) -> JSONDict:
        if not isinstance(value, dict):
            raise self.fail(where, "should be an object")
        return value

    def opt_obj(self, value: object, where: str) -> JSONDict | None:
        return None if value is None else self.obj(value, where)

    def array(self, value: object, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(where, "should be a list")
        return value

    def text(self, value: object, where: str) -> str:
        if not isinstance(value, str):
            raise self.fail(where, "should be a string")
        return value

    def opt_text(self, value: object, where: str) -> str | None:
        return None if value is None else self.text(value, where)

    def texts(self, value: object, where: str) -> tuple[str, ...]:
        if value is None:
            return ()
        return tuple(self.text(v, f"{where}[{i}]") for i, v in enumerate(self.array(value, where)))

    def time(self, value: object, where: str) -> datetime:
        text = self.text(value, where)
        try:
            return parse_timestamp(text)
        except ValueError:
            raise self.fail(where, f"is not an ISO-8601 timestamp ({text!r})") from None

    def opt_time(self, value: object, where: str) -> datetime | None:
        return None if value is None else self.time(value, where)


_VERSION_URL = re.compile(r"/dbt/([a-z-]+)/v(\d+)\.json$")


def _check_meta(reader: _Reader, data: JSONDict, kind: str) -> ArtifactMeta:
    metadata = reader.obj(data.get("metadata"), "metadata")
    url = metadata.get("dbt_schema_version")
    supported, writers = SUPPORTED_VERSIONS[kind]
    expected = f"{SCHEMAS_URL}{kind}/v{supported}.json"
    match = _VERSION_URL.search(url) if isinstance(url, str) else None
    if match is None:
        raise ArtifactError(
            f"{reader.path}: {reader.label} has no readable `metadata.dbt_schema_version` (found {url!r}); "
            f"freshlens reads {expected}. Is this the right file?"
        )
    found_kind, found_version = match.group(1), int(match.group(2))
    if found_kind != kind:
        raise ArtifactError(
            f"{reader.path}: this is a `{found_kind}` artifact, not {reader.label} ({url}). "
            "Check which file was copied under this name."
        )
    if found_version != supported:
        if found_version < supported:
            todo = f"Re-run the job with {writers} and ingest the new artifacts."
        else:
            todo = "It was written by a newer dbt than this freshlens knows; upgrade freshlens."
        raise ArtifactError(
            f"{reader.path}: {reader.label} has schema version v{found_version} ({url}); "
            f"freshlens reads v{supported} ({writers}). {todo}"
        )
    return ArtifactMeta(
        path=str(reader.path),
        schema_version=found_version,
        dbt_version=str(metadata.get("dbt_version") or ""),
        generated_at=reader.time(metadata.get("generated_at"), "metadata.generated_at"),
        invocation_id=reader.text(metadata.get("invocation_id"), "metadata.invocation_id"),
    )


# ---------------------------------------------------------------------------------------------- manifest


def _macro_closure(direct: tuple[str, ...], macro_deps: Mapping[str, tuple[str, ...]]) -> list[str]:
    seen: set[str] = set()
    stack = list(direct)
    while stack:
        macro_id = stack.pop()
        if macro_id in seen:
            continue
        seen.add(macro_id)
        stack.extend(macro_deps.get(macro_id, ()))
    return sorted(seen)


def config_fingerprint(unrendered_config: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of ``unrendered_config`` without the excluded and separate keys."""
    kept = {
        k: v
        for k, v in unrendered_config.items()
        if k not in CONFIG_EXCLUDED_KEYS and k not in CONFIG_SEPARATE_KEYS
    }
    return _sha256(canonical_json(kept))


def _attach_ephemeral_code(nodes: dict[str, ManifestNode]) -> None:
    """Record in each node's fingerprint the code of the ephemeral models it inlines."""

    def ephemerals(uid: str, seen: set[str]) -> list[str]:
        out: list[str] = []
        node = nodes.get(uid)
        if node is None:
            return out
        for parent in node.fingerprint.depends_on_nodes:
            pn = nodes.get(parent)
            if pn is None or pn.fingerprint.materialized != "ephemeral" or parent in seen:
                continue
            seen.add(parent)
            out.append(parent)
            out.extend(ephemerals(parent, seen))
        return out

    for uid, node in list(nodes.items()):
        found = ephemerals(uid, set())
        if found:
            code = tuple(sorted((e, nodes[e].fingerprint.raw_code_sha256) for e in found))
            nodes[uid] = dataclasses.replace(node, fingerprint=node.fingerprint._replace(ephemeral_code=code))


def _relation(r: _Reader, obj: JSONDict, where: str, identifier_key: str) -> Relation:
    """database/schema/identifier of a manifest entry (``alias`` for nodes, ``identifier`` for sources)."""
    return Relation(
        database=r.opt_text(obj.get("database"), f"{where}.database"),
        schema=r.opt_text(obj.get("schema"), f"{where}.schema"),
        identifier=r.opt_text(obj.get(identifier_key), f"{where}.{identifier_key}"),
        relation_name=r.opt_text(obj.get("relation_name"), f"{where}.relation_name"),
    )


def read_manifest(path: str | Path) -> Manifest:
    """Read ``manifest.json`` v12: models, seeds, snapshots and tests, sources, macro body hashes."""
    p = Path(path)
    r = _Reader(p, "manifest.json")
    data = _load_json(p, r.label)
    meta = _check_meta(r, data, "manifest")
    metadata = r.obj(data.get("metadata"), "metadata")

    macros = r.obj(data.get("macros", {}), "macros")
    macro_hashes: dict[str, str] = {}
    macro_deps: dict[str, tuple[str, ...]] = {}
    for macro_id, raw in macros.items():
        macro = r.obj(raw, f"macros.{macro_id}")
        macro_hashes[macro_id] = _sha256(
            r.opt_text(macro.get("macro_sql"), f"macros.{macro_id}.macro_sql") or ""
        )
        deps = r.opt_obj(macro.get("depends_on"), f"macros.{macro_id}.depends_on") or {}
        macro_deps[macro_id] = r.texts(deps.get("macros"), f"macros.{macro_id}.depends_on.macros")

    nodes: dict[str, ManifestNode] = {}
    for uid, raw in r.obj(data.get("nodes", {}), "nodes").items():
        where = f"nodes.{uid}"
        node = r.obj(raw, where)
        resource_type = r.text(node.get("resource_type"), f"{where}.resource_type")
        if resource_type not in TRACKED_TYPES:
            continue
        config = r.opt_obj(node.get("config"), f"{where}.config") or {}
        unrendered = r.opt_obj(node.get("unrendered_config"), f"{where}.unrendered_config") or {}
        checksum = r.opt_obj(node.get("checksum"), f"{where}.checksum") or {}
        depends_on = r.opt_obj(node.get("depends_on"), f"{where}.depends_on") or {}
        raw_code = r.opt_text(node.get("raw_code"), f"{where}.raw_code") or ""
        direct_macros = r.texts(depends_on.get("macros"), f"{where}.depends_on.macros")
        freshness = config.get("freshness")
        state = config.get("state")
        fingerprint = NodeFingerprint(
            raw_code_sha256=_sha256(raw_code),
            normalised_code_sha256=_sha256(normalised_code(raw_code)),
            checksum=f"{checksum.get('name', '')}:{checksum.get('checksum', '')}",
            config_sha256=config_fingerprint(unrendered),
            materialized=r.opt_text(config.get("materialized"), f"{where}.config.materialized"),
            relation=_relation(r, node, where, "alias"),
            depends_on_nodes=r.texts(depends_on.get("nodes"), f"{where}.depends_on.nodes"),
            depends_on_macros=direct_macros,
            macro_hashes=tuple(
                (m, macro_hashes.get(m, "missing")) for m in _macro_closure(direct_macros, macro_deps)
            ),
            freshness=freshness if isinstance(freshness, dict) else None,
            state=state if isinstance(state, dict) else None,
        )
        nodes[uid] = ManifestNode(
            unique_id=uid,
            resource_type=resource_type,
            name=r.text(node.get("name"), f"{where}.name"),
            package=r.text(node.get("package_name"), f"{where}.package_name"),
            original_file_path=r.text(node.get("original_file_path"), f"{where}.original_file_path"),
            language=r.opt_text(node.get("language"), f"{where}.language"),
            fingerprint=fingerprint,
            raw_code=raw_code,
        )

    _attach_ephemeral_code(nodes)

    sources: dict[str, ManifestSource] = {}
    for uid, raw in r.obj(data.get("sources", {}), "sources").items():
        where = f"sources.{uid}"
        src = r.obj(raw, where)
        freshness = src.get("freshness")
        sources[uid] = ManifestSource(
            unique_id=uid,
            source_name=r.text(src.get("source_name"), f"{where}.source_name"),
            name=r.text(src.get("name"), f"{where}.name"),
            relation=_relation(r, src, where, "identifier"),
            loaded_at_field=r.opt_text(src.get("loaded_at_field"), f"{where}.loaded_at_field"),
            loaded_at_query=r.opt_text(src.get("loaded_at_query"), f"{where}.loaded_at_query"),
            freshness=freshness if isinstance(freshness, dict) else None,
        )

    return Manifest(
        meta=meta,
        project_name=r.opt_text(metadata.get("project_name"), "metadata.project_name"),
        adapter_type=r.opt_text(metadata.get("adapter_type"), "metadata.adapter_type"),
        nodes=nodes,
        sources=sources,
        macro_hashes=macro_hashes,
    )


# ------------------------------------------------------------------------------------------- run results


def read_run_results(path: str | Path) -> RunResults:
    """Read ``run_results.json`` v6, including Fusion's ``status: "reused"`` with the reason in ``message``."""
    p = Path(path)
    r = _Reader(p, "run_results.json")
    data = _load_json(p, r.label)
    meta = _check_meta(r, data, "run-results")
    args = data.get("args")
    command = args.get("which") if isinstance(args, dict) else None
    results: list[RunResult] = []
    for i, raw in enumerate(r.array(data.get("results"), "results")):
        where = f"results[{i}]"
        res = r.obj(raw, where)
        completed_at: datetime | None = None
        for j, t in enumerate(r.array(res.get("timing") or [], f"{where}.timing")):
            timing = r.obj(t, f"{where}.timing[{j}]")
            if timing.get("name") == "execute":
                completed_at = r.opt_time(timing.get("completed_at"), f"{where}.timing[{j}].completed_at")
        message = res.get("message")
        results.append(
            RunResult(
                unique_id=r.text(res.get("unique_id"), f"{where}.unique_id"),
                status=r.text(res.get("status"), f"{where}.status"),
                message=None if message is None else str(message),
                completed_at=completed_at,
                relation_name=r.opt_text(res.get("relation_name"), f"{where}.relation_name"),
            )
        )
    return RunResults(
        meta=meta, command=command if isinstance(command, str) else None, results=tuple(results)
    )


# --------------------------------------------------------------------------------------------- sources


# dbt-core writes lower-case statuses; dbt v2 writes its enum's names, Pass/Warn/Error (spec
# dbt-v2-freshness.md A3, A6). Stored lower-case so every consumer sees one spelling.
FRESHNESS_STATUSES = frozenset({"pass", "warn", "error", "runtime error"})


def _freshness_status(r: _Reader, value: object, where: str) -> str:
    text = r.text(value, where)
    status = text.lower()
    if status not in FRESHNESS_STATUSES:
        raise ArtifactError(
            f"{r.path}: {r.label} field `{where}` is {text!r}; freshlens knows pass, warn, error and "
            "runtime error (any case). Is the file from a newer dbt? Upgrade freshlens, or leave the file out."
        )
    return status


def _quick_freshness_result(raw: object) -> SourceFreshnessResult | None:
    """A sources.json result of the usual shape, read without naming each field for messages (a plan
    reads thousands); None for anything else, which the full reading below checks and explains."""
    if type(raw) is not dict:
        return None
    uid, status, error = raw.get("unique_id"), raw.get("status"), raw.get("error")
    loaded, taken = raw.get("max_loaded_at"), raw.get("snapshotted_at")
    if type(uid) is not str or not uid.startswith("source.") or type(status) is not str:
        return None
    status = status.lower()
    if status not in FRESHNESS_STATUSES or not (loaded is None or type(loaded) is str):
        return None
    if not (taken is None or type(taken) is str):
        return None
    try:
        return SourceFreshnessResult(
            uid,
            None if loaded is None else parse_timestamp(loaded),
            None if taken is None else parse_timestamp(taken),
            status,
            None if error is None else str(error),
            "source",
        )
    except ValueError:
        return None


def _freshness_results(r: _Reader, data: JSONDict, with_resource_type: bool) -> list[SourceFreshnessResult]:
    results: list[SourceFreshnessResult] = []
    for i, raw in enumerate(r.array(data.get("results"), "results")):
        if not with_resource_type:
            quick = _quick_freshness_result(raw)
            if quick is not None:
                results.append(quick)
                continue
        where = f"results[{i}]"
        res = r.obj(raw, where)
        uid = r.text(res.get("unique_id"), f"{where}.unique_id")
        resource_type = "source"
        if with_resource_type:
            resource_type = r.text(res.get("resource_type"), f"{where}.resource_type")
            if resource_type not in ("source", "model") or not uid.startswith(f"{resource_type}."):
                raise r.fail(
                    f"{where}.resource_type",
                    f"is {resource_type!r} for {uid!r}; freshness.json v0 holds sources and models only",
                )
        error = res.get("error")
        results.append(
            SourceFreshnessResult(
                unique_id=uid,
                max_loaded_at=r.opt_time(res.get("max_loaded_at"), f"{where}.max_loaded_at"),
                snapshotted_at=r.opt_time(res.get("snapshotted_at"), f"{where}.snapshotted_at"),
                status=_freshness_status(r, res.get("status"), f"{where}.status"),
                error=None if error is None else str(error),
                resource_type=resource_type,
            )
        )
    return results


def read_sources(path: str | Path) -> SourcesArtifact:
    """Read ``sources.json`` v3; a ``{unique_id, error, status: "runtime error"}`` result keeps its error."""
    p = Path(path)
    r = _Reader(p, "sources.json")
    data = _load_json(p, r.label)
    meta = _check_meta(r, data, "sources")
    return SourcesArtifact(meta=meta, results=tuple(_freshness_results(r, data, False)))


def read_freshness(path: str | Path) -> SourcesArtifact:
    """Read dbt v2's ``freshness.json`` (schema ``freshness/v0``): source and model SLA results.

    dbt v2 leaves a node whose measurement failed out of the file (spec dbt-v2-freshness.md A5), so
    every result is measured; ``model.*`` results are display-only (S5).
    """
    p = Path(path)
    r = _Reader(p, "freshness.json")
    data = _load_json(p, r.label)
    meta = _check_meta(r, data, "freshness")
    return SourcesArtifact(meta=meta, results=tuple(_freshness_results(r, data, True)))


def read_freshness_artifact(path: str | Path) -> SourcesArtifact:
    """Read a ``sources.json`` or a ``freshness.json``, told apart by ``metadata.dbt_schema_version``
    (not by the file name, spec dbt-v2-freshness.md A1)."""
    p = Path(path)
    data = _load_json(p, "source freshness file")
    metadata = data.get("metadata")
    url = metadata.get("dbt_schema_version") if isinstance(metadata, dict) else None
    match = _VERSION_URL.search(url) if isinstance(url, str) else None
    if match is not None and match.group(1) == "freshness":
        r = _Reader(p, "freshness.json")
        meta = _check_meta(r, data, "freshness")
        return SourcesArtifact(meta=meta, results=tuple(_freshness_results(r, data, True)))
    r = _Reader(p, "sources.json")
    meta = _check_meta(r, data, "sources")
    return SourcesArtifact(meta=meta, results=tuple(_freshness_results(r, data, False)))


# --------------------------------------------------------------------------------------------- catalog


def read_catalog(path: str | Path) -> Catalog:
    """Read ``catalog.json`` (from ``dbt docs generate``): which relations exist and their type."""
    p = Path(path)
    r = _Reader(p, "catalog.json")
    data = _load_json(p, r.label)
    meta = _check_meta(r, data, "catalog")
    entries: dict[str, CatalogEntry] = {}
    for section in ("nodes", "sources"):
        for uid, raw in r.obj(data.get(section) or {}, section).items():
            where = f"{section}.{uid}"
            md = r.obj(r.obj(raw, where).get("metadata"), f"{where}.metadata")
            entries[uid] = CatalogEntry(
                unique_id=uid,
                relation_type=r.text(md.get("type"), f"{where}.metadata.type"),
                database=r.opt_text(md.get("database"), f"{where}.metadata.database"),
                schema=r.opt_text(md.get("schema"), f"{where}.metadata.schema"),
                name=r.opt_text(md.get("name"), f"{where}.metadata.name"),
            )
    return Catalog(meta=meta, entries=entries)
