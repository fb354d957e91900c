"""Seeds and mutations for the property-based fuzz tests.

Seeds are the real files of the repository (examples/, tests/fixtures/): hypothesis picks one and
applies a few mutations a broken editor buffer, a half-copied artifact or a hostile file could show —
truncation, splicing in a piece of another seed, deepening (nesting brackets, Jinja blocks, YAML
collections), re-encoding (UTF-16, Latin-1, BOM, CRLF) and byte flips. Artifacts are also mutated
as JSON trees (a value of the wrong type, a key removed, a subtree nested deeper), so the readers'
field checks are reached and not only the JSON decoder.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
# Each call must answer within this bound: the readers are linear, and the nasty-file corpus holds
# the same 5 s for a shared CI machine (a real run takes milliseconds).
BOUND_S = 5.0

T = TypeVar("T")


def _seed_files(*patterns: str) -> list[Path]:
    roots = [REPO / "examples", REPO / "tests" / "fixtures"]
    out = {p for r in roots for pat in patterns for p in r.rglob(pat) if p.is_file()}
    return sorted(p for p in out if not any(part in {"target", "dbt_packages", "logs"} for part in p.parts))


YAML_SEEDS = [p.read_bytes() for p in _seed_files("*.yml", "*.yaml")]
SQL_SEEDS = [p.read_bytes() for p in _seed_files("*.sql")]
PY_SEEDS = [p.read_bytes() for p in _seed_files("*.py") if p.parent.name == "models"]
ARTIFACTS = REPO / "tests" / "fixtures" / "artifacts"
ARTIFACT_NAMES = ("manifest.json", "run_results.json", "sources.json", "catalog.json")
ARTIFACT_SEEDS: dict[str, list[Any]] = {
    n: [json.loads(p.read_text("utf-8")) for p in sorted(ARTIFACTS.rglob(n))] for n in ARTIFACT_NAMES
}

# Fragments the readers give meaning to; splicing them in reaches branches random bytes rarely do.
TOKENS = [
    b"{{",
    b"}}",
    b"{%",
    b"%}",
    b"{#",
    b"#}",
    b"{%-",
    b"-%}",
    b"config(",
    b"ref(",
    b"source(",
    b"var(",
    b"env_var(",
    b"{% if x %}",
    b"{% endif %}",
    b"{% for i in x %}",
    b"{% macro m() %}",
    b"'",
    b'"',
    b"\\",
    b"(",
    b")",
    b"[",
    b"]",
    b"{",
    b"}",
    b",",
    b"=",
    b"**",
    b"--",
    b"/*",
    b"*/",
    b"\n",
    b"\r\n",
    b"\r",
    b"\t",
    b"\x00",
    b"\xff",
    b"\xef\xbb\xbf",
    b"\xc3",
    b"\xed\xa0\x80",
    b": ",
    b"- ",
    b"? ",
    b"&a ",
    b"*a",
    b"<<: *a",
    b"!!str ",
    b"!!int ",
    b"!!python/object ",
    b"---\n",
    b"...\n",
    b"|\n",
    b">-\n",
    b"%YAML 1.2\n",
    b"version: 2\n",
    b"models:\n",
    b"sources:\n",
    b"freshness:",
    b"build_after:",
    b"state:",
    b"lag_tolerance: ",
    b"+freshness:",
    b"config:",
    b"loaded_at_field:",
    b"loaded_at_query:",
    b"count: ",
    b"period: ",
    b"- name: x\n",
    b"null",
    b"~",
    b"1e400",
    b"-0",
    b"0x1F",
    b".inf",
    b"1h 30m",
    b"\xc2\xb5s",
    b"99999999999999999999d",
]


def _truncate(data: bytes, draw: Callable[..., Any]) -> bytes:
    return data[: draw(st.integers(0, len(data)))]


def _splice(data: bytes, draw: Callable[..., Any], pool: list[bytes]) -> bytes:
    other = draw(st.sampled_from(pool))
    a = draw(st.integers(0, len(other)))
    b = draw(st.integers(a, min(len(other), a + 400)))
    at = draw(st.integers(0, len(data)))
    return data[:at] + other[a:b] + data[at:]


def _insert_token(data: bytes, draw: Callable[..., Any]) -> bytes:
    at = draw(st.integers(0, len(data)))
    return data[:at] + draw(st.sampled_from(TOKENS)) * draw(st.integers(1, 3)) + data[at:]


def _deepen(data: bytes, draw: Callable[..., Any]) -> bytes:
    opener, closer = draw(
        st.sampled_from(
            [
                (b"(", b")"),
                (b"[", b"]"),
                (b"{", b"}"),
                (b"{'a': ", b"}"),
                (b"{% if x %}", b"{% endif %}"),
                (b"{{ ", b" }}"),
                (b"- ", b""),
                (b"  a:\n", b""),
                (b"[", b""),
                (b"{% for i in x %}", b""),
            ]
        )
    )
    depth = draw(st.sampled_from([2, 10, 99, 101, 150, 1000, 5000]))
    at = draw(st.integers(0, len(data)))
    return data[:at] + opener * depth + closer * depth + data[at:]


def _reencode(data: bytes, draw: Callable[..., Any]) -> bytes:
    text = data.decode("utf-8", errors="replace")
    how = draw(st.sampled_from(["utf-16", "utf-16-le", "latin-1", "bom", "crlf", "cr", "utf-32"]))
    if how == "bom":
        return b"\xef\xbb\xbf" + data
    if how == "crlf":
        return data.replace(b"\n", b"\r\n")
    if how == "cr":
        return data.replace(b"\n", b"\r")
    return text.encode(how, errors="replace")


def _flip(data: bytes, draw: Callable[..., Any]) -> bytes:
    if not data:
        return data
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(buf) - 1))
        buf[i] = draw(st.integers(0, 255))
    return bytes(buf)


def _duplicate(data: bytes, draw: Callable[..., Any]) -> bytes:
    a = draw(st.integers(0, len(data)))
    b = draw(st.integers(a, min(len(data), a + 200)))
    return data[:b] + data[a:b] * draw(st.integers(1, 50)) + data[b:]


MUTATIONS = ("truncate", "splice", "token", "deepen", "reencode", "flip", "duplicate")


@st.composite
def mutated(draw: Callable[..., Any], pool: list[bytes]) -> bytes:
    """A seed from ``pool`` after 0–4 mutations (0 keeps the real file, which must stay clean too)."""
    data: bytes = draw(st.sampled_from(pool))
    for op in draw(st.lists(st.sampled_from(MUTATIONS), max_size=4)):
        if op == "truncate":
            data = _truncate(data, draw)
        elif op == "splice":
            data = _splice(data, draw, pool)
        elif op == "token":
            data = _insert_token(data, draw)
        elif op == "deepen":
            data = _deepen(data, draw)
        elif op == "reencode":
            data = _reencode(data, draw)
        elif op == "flip":
            data = _flip(data, draw)
        else:
            data = _duplicate(data, draw)
    return data


def as_text(data: bytes) -> str:
    """What an editor buffer would hold: any bytes, decoded leniently (lone surrogates included)."""
    return data.decode("utf-8", errors="surrogateescape")


# -- JSON trees ------------------------------------------------------------------------------

_ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    1.5,
    10**30,
    "",
    "x",
    "2026-13-45T99:99:99",
    "2026-06-01T00:00:00Z",
    [],
    {},
    [None],
    {"": None},
    "\x00",
    "\ud800",
    float("nan"),
]


def _paths(tree: Any, limit: int = 4000) -> list[tuple[Any, Any]]:
    """(container, key) pairs of the tree, breadth first, at most ``limit``."""
    out: list[tuple[Any, Any]] = []
    todo = [tree]
    while todo and len(out) < limit:
        node = todo.pop(0)
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in items:
            out.append((node, k))
            if isinstance(v, dict | list):
                todo.append(v)
    return out


def _shrink(tree: Any, draw: Callable[..., Any]) -> None:
    """Keep a few entries of the big maps (nodes, sources, results): small artifacts, same shapes."""
    for key in ("nodes", "sources", "macros", "parent_map", "child_map", "exposures", "metrics"):
        m = tree.get(key) if isinstance(tree, dict) else None
        if isinstance(m, dict) and len(m) > 4:
            keep = draw(st.lists(st.sampled_from(sorted(m)), min_size=1, max_size=4, unique=True))
            for k in list(m):
                if k not in keep:
                    del m[k]
    res = tree.get("results") if isinstance(tree, dict) else None
    if isinstance(res, list) and len(res) > 4:
        start = draw(st.integers(0, len(res) - 4))
        tree["results"] = res[start : start + 4]


@st.composite
def mutated_json(draw: Callable[..., Any], name: str) -> bytes:
    """A real artifact of kind ``name``, shrunk, with 0–4 tree mutations, then possibly byte mutations."""
    tree = json.loads(json.dumps(draw(st.sampled_from(ARTIFACT_SEEDS[name]))))
    _shrink(tree, draw)
    for _ in range(draw(st.integers(0, 4))):
        spots = _paths(tree)
        if not spots:
            break
        node, key = draw(st.sampled_from(spots))
        op = draw(st.sampled_from(["replace", "delete", "deepen", "wrap"]))
        if op == "replace":
            node[key] = draw(st.sampled_from(_ODD_VALUES))
        elif op == "delete":
            del node[key]
        elif op == "deepen":
            v: Any = node[key]
            for _ in range(draw(st.sampled_from([2, 50, 500]))):
                v = [v]
            node[key] = v
        else:
            node[key] = {"value": node[key]}
    data = json.dumps(tree, allow_nan=True, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 3)) == 0:
        data = draw(mutated([data]))
    return data


def bounded(fn: Callable[[], T]) -> T:
    """Call ``fn`` and fail if it takes longer than BOUND_S (hypothesis' own deadline is off)."""
    started = time.monotonic()
    out = fn()
    elapsed = time.monotonic() - started
    assert elapsed < BOUND_S, f"took {elapsed:.1f} s"
    return out
