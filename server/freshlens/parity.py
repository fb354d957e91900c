"""Compare ``freshlens ls --format json`` with the ``manifest.json`` that ``dbt parse`` wrote.

Pure: both documents are plain JSON values. Used by the differential tests (tests/dbt), by the
real-project measurement (bench/parity.py) and by anyone who wants to know where freshlens' view
of a project differs from dbt's. What is compared: the node set (models, seeds, snapshots, enabled
or disabled), ``enabled``, every ``depends_on.nodes`` edge of an enabled node, ``materialized``,
model ``freshness`` and ``state``, and per source ``enabled``, ``loaded_at_field``,
``loaded_at_query`` and ``freshness``. A missing edge is *flagged* when freshlens listed an
unresolved ``ref()``/``source()`` for that node (it said its DAG may be incomplete).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

NODE_TYPES = ("model", "seed", "snapshot")
EDGE_PREFIXES = ("model.", "seed.", "snapshot.", "source.")


def is_dynamic(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"dynamic"}


def has_dynamic(value: Any) -> bool:
    """Whether freshlens left any part of a value unresolved."""
    if is_dynamic(value):
        return True
    if isinstance(value, Mapping):
        return any(has_dynamic(v) for v in value.values())
    if isinstance(value, list):
        return any(has_dynamic(v) for v in value)
    return False


def _norm_threshold(t: Any) -> Any:
    if not isinstance(t, Mapping) or (t.get("count") is None and t.get("period") is None):
        return None
    return {"count": t.get("count"), "period": t.get("period")}


def norm_source_freshness(f: Any) -> Any:
    """Source freshness with dbt's empty shapes folded: no thresholds and no filter is None."""
    if is_dynamic(f):
        return f
    if not isinstance(f, Mapping):
        return None
    w, e, flt = _norm_threshold(f.get("warn_after")), _norm_threshold(f.get("error_after")), f.get("filter")
    if w is None and e is None and flt is None:
        return None
    return {"warn_after": w, "error_after": e, "filter": flt}


def norm_model_freshness(f: Any) -> Any:
    """Model freshness: ``{"build_after": null}`` and null are the same (nothing throttles)."""
    if is_dynamic(f):
        return f
    if not isinstance(f, Mapping) or f.get("build_after") is None:
        return None
    return dict(f)


@dataclass(slots=True)
class Disagreement:
    unique_id: str
    what: str  # "enabled", "materialized", "edges", "missing node", ...
    dbt: Any
    freshlens: Any

    def __str__(self) -> str:
        return f"{self.unique_id}: {self.what}: dbt {self.dbt!r}, freshlens {self.freshlens!r}"


@dataclass(slots=True)
class Tally:
    """Agreement on one aspect: how many compared, how many equal, how many freshlens left unknown."""

    compared: int = 0
    equal: int = 0
    unknown: int = 0

    def add(self, same: bool, unknown: bool = False) -> None:
        self.compared += 1
        self.equal += int(same)
        self.unknown += int(unknown and not same)

    @property
    def share(self) -> float:
        return 1.0 if self.compared == 0 else self.equal / self.compared

    def __str__(self) -> str:
        extra = f", {self.unknown} unknown" if self.unknown else ""
        return f"{self.equal}/{self.compared} ({100 * self.share:.1f}%{extra})"


@dataclass(slots=True)
class Parity:
    """The result of one comparison: tallies, edge counts and every disagreement."""

    nodes_expected: int = 0
    nodes_found: int = 0
    nodes_missing: list[str] = field(default_factory=list)
    nodes_extra: list[str] = field(default_factory=list)
    edges_expected: int = 0
    edges_found: int = 0  # expected edges that freshlens has
    edges_extra: int = 0  # freshlens edges that dbt does not have
    edges_flagged: int = 0  # missing edges of nodes where freshlens said the DAG may be incomplete
    missing_edges: list[tuple[str, str]] = field(default_factory=list)  # (child, parent)
    extra_edges: list[tuple[str, str]] = field(default_factory=list)
    parent_sets: Tally = field(default_factory=Tally)
    enabled: Tally = field(default_factory=Tally)
    materialized: Tally = field(default_factory=Tally)
    freshness: Tally = field(default_factory=Tally)
    state: Tally = field(default_factory=Tally)
    sources: Tally = field(default_factory=Tally)  # sources present in both, all fields equal
    sources_missing: list[str] = field(default_factory=list)
    sources_extra: list[str] = field(default_factory=list)
    disagreements: list[Disagreement] = field(default_factory=list)

    @property
    def edge_recall(self) -> float:
        return 1.0 if self.edges_expected == 0 else self.edges_found / self.edges_expected

    @property
    def edge_precision(self) -> float:
        total = self.edges_found + self.edges_extra
        return 1.0 if total == 0 else self.edges_found / total

    @property
    def exact(self) -> bool:
        """Everything agrees: the goal on the fixture projects."""
        return not self.disagreements

    def summary(self) -> list[str]:
        missing = self.edges_expected - self.edges_found
        return [
            f"nodes: {self.nodes_found - len(self.nodes_extra)}/{self.nodes_expected} found, "
            f"{len(self.nodes_missing)} missing, {len(self.nodes_extra)} extra",
            f"edges: {self.edges_found}/{self.edges_expected} found ({100 * self.edge_recall:.1f}%), "
            f"{missing} missing of which {self.edges_flagged} flagged, {self.edges_extra} extra "
            f"(precision {100 * self.edge_precision:.2f}%)",
            f"exact parent set: {self.parent_sets}",
            f"enabled: {self.enabled}",
            f"materialized: {self.materialized}",
            f"freshness: {self.freshness}",
            f"state: {self.state}",
            f"sources (all fields): {self.sources}, {len(self.sources_missing)} missing, "
            f"{len(self.sources_extra)} extra",
        ]


def manifest_nodes(manifest: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Models, seeds and snapshots of a manifest, enabled (``nodes``) and disabled (``disabled``)."""
    out: dict[str, Mapping[str, Any]] = {}
    for uid, n in (manifest.get("nodes") or {}).items():
        if n.get("resource_type") in NODE_TYPES:
            out[uid] = n
    for uid, group in (manifest.get("disabled") or {}).items():
        for n in group:
            if n.get("resource_type") in NODE_TYPES and uid not in out:
                out[uid] = {**n, "config": {**(n.get("config") or {}), "enabled": False}}
    return out


def manifest_sources(manifest: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    out: dict[str, Mapping[str, Any]] = dict(manifest.get("sources") or {})
    for uid, group in (manifest.get("disabled") or {}).items():
        for s in group:
            if s.get("resource_type") == "source" and uid not in out:
                out[uid] = {**s, "config": {**(s.get("config") or {}), "enabled": False}}
    return out


def _enabled(entry: Mapping[str, Any]) -> Any:
    cfg = entry.get("config") or {}
    v = entry.get("enabled", cfg.get("enabled", True))
    return v


def _edges(entry: Mapping[str, Any]) -> set[str]:
    deps = (entry.get("depends_on") or {}).get("nodes") or []
    return {d for d in deps if isinstance(d, str) and d.startswith(EDGE_PREFIXES)}


def _in_scope(uid: str, packages: Iterable[str] | None, keep: set[str] | None = None) -> bool:
    if keep is not None and uid not in keep:
        return False
    if packages is None:
        return True
    parts = uid.split(".")
    return len(parts) > 1 and parts[1] in set(packages)


def compare(
    manifest: Mapping[str, Any],
    listing: Mapping[str, Any],
    packages: Iterable[str] | None = None,
    only: Iterable[str] | None = None,
) -> Parity:
    """Compare a dbt manifest with a freshlens listing.

    ``packages`` limits it to those packages' nodes and sources, ``only`` to those unique ids.
    """
    pk = list(packages) if packages is not None else None
    keep = set(only) if only is not None else None
    dbt_nodes = {u: n for u, n in manifest_nodes(manifest).items() if _in_scope(u, pk, keep)}
    fl_nodes = {n["unique_id"]: n for n in listing.get("nodes") or [] if _in_scope(n["unique_id"], pk, keep)}
    res = Parity(nodes_expected=len(dbt_nodes), nodes_found=len(fl_nodes))
    res.nodes_missing, res.nodes_extra = _set_difference(res, "node", dbt_nodes, fl_nodes)
    for uid in sorted(set(dbt_nodes) & set(fl_nodes)):
        _compare_node(res, uid, dbt_nodes[uid], fl_nodes[uid])
    dbt_src = {u: s for u, s in manifest_sources(manifest).items() if _in_scope(u, pk, keep)}
    fl_src = {s["unique_id"]: s for s in listing.get("sources") or [] if _in_scope(s["unique_id"], pk, keep)}
    res.sources_missing, res.sources_extra = _set_difference(res, "source", dbt_src, fl_src)
    for uid in sorted(set(dbt_src) & set(fl_src)):
        _compare_source(res, uid, dbt_src[uid], fl_src[uid])
    return res


def _set_difference(
    res: Parity, kind: str, dbt: Mapping[str, Any], fl: Mapping[str, Any]
) -> tuple[list[str], list[str]]:
    missing, extra = sorted(set(dbt) - set(fl)), sorted(set(fl) - set(dbt))
    res.disagreements.extend(Disagreement(u, f"missing {kind}", "present", None) for u in missing)
    res.disagreements.extend(Disagreement(u, f"extra {kind}", None, "present") for u in extra)
    return missing, extra


def _check(res: Parity, tally: Tally, uid: str, what: str, dbt: Any, fl: Any) -> None:
    same = dbt == fl
    tally.add(same, unknown=has_dynamic(fl))
    if not same:
        res.disagreements.append(Disagreement(uid, what, dbt, fl))


def _compare_node(res: Parity, uid: str, d: Mapping[str, Any], f: Mapping[str, Any]) -> None:
    d_en, f_en = _enabled(d), _enabled(f)
    _check(res, res.enabled, uid, "enabled", d_en, f_en)
    if "fqn" in d and "fqn" in f and list(d["fqn"]) != list(f["fqn"]):
        res.disagreements.append(Disagreement(uid, "fqn", d["fqn"], f["fqn"]))
    if d_en is not True:
        return  # dbt neither links nor fully configures a disabled node
    dcfg, fcfg = d.get("config") or {}, f.get("config") or {}
    _check(res, res.materialized, uid, "materialized", dcfg.get("materialized"), fcfg.get("materialized"))
    _check(
        res,
        res.freshness,
        uid,
        "freshness",
        norm_model_freshness(dcfg.get("freshness")),
        norm_model_freshness(fcfg.get("freshness")),
    )
    _check(res, res.state, uid, "state", dcfg.get("state"), fcfg.get("state"))
    want, got = _edges(d), _edges(f)
    flagged = bool((f.get("freshlens") or {}).get("unresolved"))
    res.edges_expected += len(want)
    res.edges_found += len(want & got)
    res.edges_extra += len(got - want)
    missing = sorted(want - got)
    if flagged:
        res.edges_flagged += len(missing)
    res.missing_edges.extend((uid, p) for p in missing)
    res.extra_edges.extend((uid, p) for p in sorted(got - want))
    res.parent_sets.add(want == got)
    if want != got:
        res.disagreements.append(Disagreement(uid, "parents", sorted(want), sorted(got)))


def _compare_source(res: Parity, uid: str, d: Mapping[str, Any], f: Mapping[str, Any]) -> None:
    d_en, f_en = _enabled(d), _enabled(f)
    pairs: list[tuple[str, Any, Any]] = [("enabled", d_en, f_en)]
    if d_en is True:
        pairs += [
            ("loaded_at_field", d.get("loaded_at_field"), f.get("loaded_at_field")),
            ("loaded_at_query", d.get("loaded_at_query"), f.get("loaded_at_query")),
            (
                "source freshness",
                norm_source_freshness(d.get("freshness")),
                norm_source_freshness(f.get("freshness")),
            ),
        ]
    bad = [(w, dv, fv) for w, dv, fv in pairs if dv != fv]
    res.sources.add(not bad, unknown=any(has_dynamic(fv) for _w, _dv, fv in bad))
    for w, dv, fv in bad:
        res.disagreements.append(Disagreement(uid, w, dv, fv))


__all__ = ["Disagreement", "Parity", "Tally", "compare", "manifest_nodes", "manifest_sources"]
