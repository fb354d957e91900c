"""Gather the planner's inputs (state, current freshness, clock) for one project, and run it.

This is the I/O edge around the pure planner: it reads the state store or an artifacts directory,
a current ``sources.json`` or (only when asked) DuckDB read-only, and the file texts the workspace
already holds.
"""

from __future__ import annotations

import gc
import hashlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from freshlens.index import ProjectIndex
from freshlens.planner import sqlcache
from freshlens.planner.core import Decision, PlanInputs
from freshlens.planner.plan import choose_regime, plan
from freshlens.state import (
    SourceFreshnessNow,
    SourceSpec,
    StateError,
    StateSnapshot,
    current_freshness_from_file,
    default_state_path,
    is_postgres_url,
    live_duckdb_freshness,
    load_state,
    read_manifest,
    redact,
    resolve_state,
)

T = TypeVar("T")


@dataclass(slots=True)
class PlanOptions:
    state: str = ""  # .db file, postgresql:// URL or artifacts dir; "" = <project>/.freshlens/state.db
    sources: str = (
        ""  # a current sources.json / freshness.json; "" = the one in <project>/.freshlens/current/
    )
    live: bool = False
    at: datetime | None = None
    regime: str = "auto"


@dataclass(slots=True)
class PlanResult:
    regime: str
    at: datetime
    decisions: dict[str, Decision]
    state_origin: str
    freshness_origin: str
    problems: list[str] = field(default_factory=list)
    # the newest run the state holds: where it came from (a folder, "dbt platform job 1, run 2", an
    # s3:// URL) and when it was generated, for the explanation's "state:" line
    state_run_source: str | None = None
    state_run_at: datetime | None = None

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in self.decisions.values():
            out[d.action] = out.get(d.action, 0) + 1
        return out


def plan_json(idx: ProjectIndex, res: PlanResult) -> dict[str, object]:
    """The ``freshlens plan --format json`` document (also the ``freshlens.plan`` command's result)."""
    rows = sorted(res.decisions.values(), key=lambda d: (d.action, d.name))
    return {
        "version": 1,
        "project": idx.name,
        "regime": res.regime,
        "at": res.at.isoformat().replace("+00:00", "Z"),
        "state": res.state_origin,
        "freshness": res.freshness_origin or None,
        "counts": res.counts(),
        "models": [
            {
                "unique_id": d.unique_id,
                "name": d.name,
                "file": os.path.relpath(d.path, idx.dir) if d.path else None,
                "action": d.action,
                "reason": d.reason,
                "short": d.short,
                "rule": d.rule,
                "evidence": d.evidence(),
            }
            for d in rows
        ],
    }


def parse_time(text: str) -> datetime:
    """ISO 8601; a time without zone is UTC. Raises ValueError with a readable message."""
    t = text.strip()
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    try:
        d = datetime.fromisoformat(t)
    except ValueError as exc:
        raise ValueError(f"cannot read time {text!r}: use ISO 8601, e.g. 2026-06-01T06:00:00Z") from exc
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)


def resolve_path(project_dir: str, p: str) -> str:
    return p if os.path.isabs(p) else os.path.normpath(os.path.join(project_dir, p))


def _source_specs(idx: ProjectIndex) -> list[SourceSpec]:
    out = []
    for st in idx.sources.values():
        if st.package != idx.name:
            continue
        q = st.loaded_at_query.value if isinstance(st.loaded_at_query.value, str) else None
        f = st.loaded_at_field.value if isinstance(st.loaded_at_field.value, str) else None
        flt = st.freshness.filter if isinstance(st.freshness.filter, str) else None
        out.append(
            SourceSpec(
                unique_id=st.unique_id,
                database=st.database if isinstance(st.database, str) else None,
                schema=st.schema if isinstance(st.schema, str) else None,
                identifier=str(st.identifier),
                loaded_at_field=f,
                loaded_at_query=q,
                filter=flt,
            )
        )
    return out


DISCOVERY_TTL_S = 300  # the editor re-plans every minute: ask the Discovery API at most every 5 minutes


def _from_discovery() -> tuple[dict[str, SourceFreshnessNow], str] | StateError:
    """``--sources dbt-platform``: current freshness from the Discovery API (freshlens.platform.discovery),
    or why not. A plan waits for it (the editor re-plans on its event loop), so one short try: 10 s,
    one retry; and a failure is kept like an answer, so an unreachable API is asked once per period."""
    from freshlens.platform.discovery import discovery_from_env, freshness_now

    try:
        env_id, client = discovery_from_env(timeout=10.0, retries=1)
        with client:
            nodes = client.sources(env_id)
    except StateError as exc:
        return exc
    return freshness_now(nodes), f"dbt platform environment {env_id} (Discovery API)"


def live_target(project_dir: str, profile: str | None) -> dict[str, Any] | None:
    """The raw scalar values of the dbt target that live freshness connects to: the project's profile
    (or the only one) in ``profiles.yml`` where dbt looks (the project, ``DBT_PROFILES_DIR``,
    ``~/.dbt``), at ``DBT_TARGET`` or its ``target:``; values are as written (Jinja included), for the
    warehouse's reader."""
    from freshlens.project.discovery import profiles_documents
    from freshlens.project.yamlpos import YMap, YScalar

    for node in profiles_documents(project_dir):
        profiles = [p for p in node.items if isinstance(p.value, YMap) and p.key.value != "config"]
        chosen = [p for p in profiles if p.key.value == profile] or (profiles if len(profiles) == 1 else [])
        for p in chosen:
            assert isinstance(p.value, YMap)
            outputs, target = p.value.get("outputs"), p.value.get("target")
            if not isinstance(outputs, YMap):
                continue
            tname = os.environ.get("DBT_TARGET") or (target.value if isinstance(target, YScalar) else None)
            out = outputs.get(str(tname)) if tname else None
            if isinstance(out, YMap):
                return {str(q.key.value): q.value.value for q in out.items if isinstance(q.value, YScalar)}
    return None


def duckdb_path(project_dir: str) -> str | None:
    """The DuckDB file of the project's profile (profiles.yml inside the project), if it is DuckDB."""
    from freshlens.project.reading import read_text
    from freshlens.project.yamlpos import YamlError, YMap, parse_yaml

    try:
        node = parse_yaml(read_text(os.path.join(project_dir, "profiles.yml")))
    except (OSError, YamlError, UnicodeDecodeError):
        return None
    if not isinstance(node, YMap):
        return None
    for p in node.items:
        prof = p.value
        if not isinstance(prof, YMap):
            continue
        outputs = prof.get("outputs")
        target = prof.get("target")
        if not isinstance(outputs, YMap):
            continue
        tname = getattr(target, "value", None)
        out = outputs.get(str(tname)) if tname else None
        if isinstance(out, YMap) and getattr(out.get("type"), "value", None) == "duckdb":
            path = getattr(out.get("path"), "value", None)
            if isinstance(path, str) and "{{" not in path:
                return resolve_path(project_dir, path)
    return None


_CACHE: dict[tuple[object, ...], tuple[object, object]] = {}


def _cached(key: tuple[object, ...], load: Callable[[], T], stamp: object = None) -> T:
    """Re-read a state store / sources.json only when its modification time (or, for a PostgreSQL
    store, its change counter: ``stamp``) changed (the server re-plans after every edit and every minute)."""
    path = str(key[1])
    stamp = _stamp(path) if stamp is None else stamp
    got = _CACHE.get(key)
    if got is not None and got[0] == stamp:
        return got[1]  # type: ignore[return-value]
    value = load()
    _CACHE[key] = (stamp, value)
    return value


def _stamp(path: str) -> float:
    newest = 0.0
    targets = [path]
    if os.path.isdir(path):
        targets = [os.path.join(path, f) for f in os.listdir(path)]
    for t in targets:
        try:
            newest = max(newest, os.stat(t).st_mtime_ns / 1e9)
        except OSError:
            continue
    return newest


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _OnFirstUse(Mapping[str, str]):
    """The last build's code per node, read from its run's manifest only when a plan first asks: only
    a model whose code changed needs it, and that manifest is the slowest file a plan could read."""

    def __init__(self, load: Callable[[], dict[str, str]]) -> None:
        self._load = load
        self._data: dict[str, str] | None = None

    def _got(self) -> dict[str, str]:
        if self._data is None:
            self._data = self._load()
        return self._data

    def __getitem__(self, key: str) -> str:
        return self._got()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._got())

    def __len__(self) -> int:
        return len(self._got())


def recorded_code(state: StateSnapshot, codes: Mapping[str, str]) -> dict[str, str]:
    """unique id -> the code a node's last successful build ran, from a run's code per node
    (``manifest.json`` ``raw_code``).

    A manifest holds the code of its own run; that is the code of a node's last build only when its
    hash matches the state's fingerprint of that build, so only those are kept.
    """
    out: dict[str, str] = {}
    for uid, ns in state.nodes.items():
        code = codes.get(uid)
        fp = ns.fingerprint
        if code is not None and fp is not None and _sha256(code) == fp.raw_code_sha256:
            out[uid] = code
    return out


def _current_file(project_dir: str) -> str:
    """The current-freshness folder's file: ``sources.json`` (dbt source freshness) or, from dbt v2's
    ``dbt freshness``, ``freshness.json`` — the newer of the two when both are there."""
    folder = os.path.join(project_dir, ".freshlens", "current")
    found = [
        p for p in (os.path.join(folder, n) for n in ("sources.json", "freshness.json")) if os.path.isfile(p)
    ]
    if not found:
        return os.path.join(folder, "sources.json")
    return max(found, key=os.path.getmtime)


_NO_DRIVER = "a PostgreSQL state store needs the psycopg driver: pip install 'freshlens[postgres]'"


def run_plan(
    idx: ProjectIndex, opts: PlanOptions, file_text: dict[str, str], *, kept: bool = False
) -> PlanResult:
    """Read the state and current freshness, then plan every model of ``idx`` (see the module docs).

    ``kept``: the caller keeps the plan until its process ends (``freshlens run``, the CLI), so the
    plan's objects are frozen out of the cycle collector's sight (``gc.freeze``); the first collection
    after a plan otherwise scans all of them, ~40 ms at 10,000 models. A long-lived process (the
    language server) plans again and again and must not freeze what it later drops.
    """
    collecting = gc.isenabled()
    # Reading a 10,000-node state and planning make a few hundred thousand objects that form no
    # cycles: the cycle collector would only rescan the index's millions of objects meanwhile
    # (10-20% of a plan's time, measured).
    gc.disable()
    try:
        result = _run_plan(idx, opts, file_text)
        if kept:
            gc.freeze()
        return result
    finally:
        if collecting:
            gc.enable()


def _run_plan(idx: ProjectIndex, opts: PlanOptions, file_text: dict[str, str]) -> PlanResult:
    project_dir = idx.dir
    at = opts.at or datetime.now(UTC)
    problems: list[str] = []
    state_path = resolve_state(project_dir, opts.state, str(default_state_path(project_dir)))
    state: StateSnapshot
    if is_postgres_url(state_path):
        try:
            from freshlens.state.postgres import stamp

            generation = stamp(state_path)
            state = _cached(("state", state_path), lambda: load_state(state_path), generation)
        except (StateError, ImportError) as exc:
            problems.append(str(exc) if isinstance(exc, StateError) else _NO_DRIVER)
            state = StateSnapshot.empty(redact(state_path))
    elif os.path.exists(state_path):
        try:
            state = _cached(("state", state_path), lambda: load_state(state_path))
            if state.notice:  # a damaged store was rebuilt from its kept runs: the user should know
                problems.append(state.notice)
        except StateError as exc:
            problems.append(str(exc))
            state = StateSnapshot.empty(state_path)
    else:
        if opts.state and os.path.isabs(opts.state):
            # a relative setting is looked up in every project: only an explicit path that is missing is a problem
            problems.append(f"state not found: {state_path}")
        state = StateSnapshot.empty(state_path)
    fresh: dict[str, SourceFreshnessNow] = {}
    origin = ""
    expected = [s.unique_id for s in _source_specs(idx)]
    if opts.live:
        target = live_target(project_dir, idx.root.project.profile) or {}
        db = duckdb_path(project_dir)
        try:
            if target.get("type") == "postgres":
                from freshlens.state.live_postgres import connection_params, describe, live_postgres_freshness

                params = connection_params(target, dict(os.environ))
                fresh = live_postgres_freshness(_source_specs(idx), params)
                origin = f"live PostgreSQL {describe(params)} (read-only)"
            elif db is not None:
                fresh = live_duckdb_freshness(_source_specs(idx), db)
                origin = f"live DuckDB {os.path.relpath(db, project_dir)}"
            else:
                problems.append(
                    "live freshness reads DuckDB or PostgreSQL: the profile's target is "
                    f"{target.get('type') or 'not found'}; refresh freshness with your dbt instead "
                    "(freshlens freshness refresh)"
                )
        except StateError as exc:
            problems.append(str(exc))
    elif opts.sources == "dbt-platform":
        bucket = int(time.time() // DISCOVERY_TTL_S)  # asked again when the bucket changes
        got = _cached(("discovery", "dbt-platform"), _from_discovery, stamp=bucket)
        if isinstance(got, StateError):
            problems.append(str(got))
        else:
            fresh, origin = got
    else:
        src = resolve_path(project_dir, opts.sources) if opts.sources else _current_file(project_dir)
        if os.path.exists(src):
            try:
                fresh = _cached(
                    ("sources", src, tuple(expected)), lambda: current_freshness_from_file(src, expected)
                )
                origin = os.path.relpath(src, project_dir)
            except StateError as exc:
                problems.append(str(exc))
        elif opts.sources:
            problems.append(f"sources file not found: {src}")
    regime = choose_regime(idx, opts.regime)
    recorded: Mapping[str, str] = {}
    if state.last_run_source and os.path.isfile(os.path.join(state.last_run_source, "manifest.json")):
        manifest_path = os.path.join(state.last_run_source, "manifest.json")

        def load() -> dict[str, str]:
            try:
                codes = _cached(
                    ("manifest code", manifest_path),
                    lambda: {uid: n.raw_code for uid, n in read_manifest(manifest_path).nodes.items()},
                )
            except StateError as exc:
                problems.append(f"{exc} (only needed to compare code changes by SQL structure)")
                return {}
            return recorded_code(state, codes)

        recorded = _OnFirstUse(load)
    inputs = PlanInputs(idx, state, fresh, at, regime, file_text, origin, recorded)
    sqlcache.load(project_dir)  # what earlier processes learnt from parsing views' SQL
    decisions = plan(inputs)
    sqlcache.save(project_dir)
    return PlanResult(
        regime, at, decisions, state.origin, origin, problems, state.last_run_source, state.last_run_at
    )
