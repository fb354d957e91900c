"""What renders found, kept on disk so a restart re-renders nothing that did not change.

One JSON file per project (``.freshlens/cache/render-v1.json``), safe to delete. An entry's key is a
hash of everything a render depends on: the model's text, its package and name, the project's
context fingerprint (every macro, the vars, the target, ``dispatch:``, the environment when allowed)
and this module's format version with freshlens' version. Anything unreadable is ignored (the
models are rendered again); writing is atomic (a temp file renamed over the old one).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from typing import Any

from freshlens import __version__
from freshlens.model import Dynamic, Span
from freshlens.project.sqlscan import ConfigCall, RefCall
from freshlens.project.yamlpos import YMap, YNode, YPair, YScalar, YSeq
from freshlens.render.nodes import NodeRender

FORMAT = 1
FILE_NAME = f"render-v{FORMAT}.json"


def entry_key(fingerprint: str, package: str, name: str, text: str) -> str:
    h = hashlib.sha256()
    for part in (str(FORMAT), __version__, fingerprint, package, name, text):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def _span(sp: Span) -> list[int]:
    return [sp.line, sp.col, sp.end_line, sp.end_col]


def _node_out(n: YNode) -> Any:
    if isinstance(n, YScalar):
        if isinstance(n.value, Dynamic):
            return ["d", n.value.text, _span(n.span)]
        return ["s", n.value, n.tag, n.quoted, _span(n.span)]
    if isinstance(n, YSeq):
        return ["q", _span(n.span), [_node_out(i) for i in n.items]]
    return ["m", _span(n.span), [[_node_out(p.key), _node_out(p.value)] for p in n.items]]


def _node_in(d: Any) -> YNode:
    kind = d[0]
    if kind == "d":
        return YScalar(Dynamic(str(d[1])), Span(*d[2]), "dynamic")
    if kind == "s":
        return YScalar(d[1], Span(*d[4]), str(d[2]), bool(d[3]))
    if kind == "q":
        return YSeq([_node_in(i) for i in d[2]], Span(*d[1]))
    if kind == "m":
        pairs = []
        for k, v in d[2]:
            key = _node_in(k)
            if not isinstance(key, YScalar):
                raise ValueError("a mapping key that is not a scalar")
            pairs.append(YPair(key, _node_in(v)))
        return YMap(pairs, Span(*d[1]))
    raise ValueError(f"unknown node kind {kind!r}")


def dump(r: NodeRender) -> dict[str, Any]:
    return {
        "refs": [[c.kind, c.args, c.version, _span(c.span)] for c in r.refs],
        "configs": [[_node_out(c.args), _span(c.span)] for c in r.configs],
        "problem": r.problem,
        "problem_span": _span(r.problem_span) if r.problem_span is not None else None,
        "undefined": list(r.undefined),
    }


def load_entry(d: dict[str, Any]) -> NodeRender:
    configs = []
    for args, sp in d["configs"]:
        node = _node_in(args)
        if not isinstance(node, YMap):
            raise ValueError("config() arguments that are not a mapping")
        configs.append(ConfigCall(node, Span(*sp)))
    ps = d.get("problem_span")
    return NodeRender(
        refs=[RefCall(str(k), [str(a) for a in args], v, Span(*sp)) for k, args, v, sp in d["refs"]],
        configs=configs,
        problem=d.get("problem"),
        problem_span=Span(*ps) if ps is not None else None,
        undefined=[str(u) for u in d.get("undefined") or []],
    )


def read(path: str) -> dict[str, dict[str, Any]]:
    """The stored entries, or {} when the file is missing, unreadable or of another format."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError, RecursionError):
        return {}
    if (
        not isinstance(data, dict)
        or data.get("format") != FORMAT
        or not isinstance(data.get("entries"), dict)
    ):
        return {}
    entries: dict[str, dict[str, Any]] = data["entries"]
    return entries


def write(path: str, entries: dict[str, dict[str, Any]]) -> bool:
    """Replace the file with ``entries`` atomically; False (and nothing changed) when it cannot."""
    try:
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".render-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                # dumps, not dump: json.dump streams through the pure-Python encoder (3x slower here)
                fh.write(json.dumps({"format": FORMAT, "entries": entries}, separators=(",", ":")))
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except (OSError, TypeError, ValueError):
        return False
    return True
