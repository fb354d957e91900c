"""YAML with exact positions.

dbt loads YAML with PyYAML's libyaml-backed ``CSafeLoader``; we compose with the same C parser so
that what dbt accepts (trailing tabs, for example) we accept too, and so that every key and value
keeps its range. The composed node graph is turned into a small tree of our own: ``YMap``,
``YSeq`` and ``YScalar``. Merge keys (``<<``) are flattened the way PyYAML's constructor does, and
duplicate keys are recorded (the last one wins, as in dbt).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import yaml

from freshlens.model import Span

try:  # pragma: no cover - depends on how PyYAML was built
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

_constructor = yaml.constructor.SafeConstructor()

_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"


@dataclass(slots=True)
class YScalar:
    value: Any
    span: Span
    tag: str
    quoted: bool = False
    text: str = ""  # the scalar as written (empty when not from YAML text)

    @property
    def is_null(self) -> bool:
        return self.value is None


@dataclass(slots=True)
class YPair:
    key: YScalar
    value: YNode


@dataclass(slots=True)
class YMap:
    items: list[YPair]
    span: Span
    duplicates: list[tuple[YScalar, YScalar]] = field(default_factory=list)

    def get(self, key: str) -> YNode | None:
        pair = self.pair(key)
        return pair.value if pair is not None else None

    def pair(self, key: str) -> YPair | None:
        found = None
        for p in self.items:
            if p.key.value == key:
                found = p
        return found

    def has(self, key: str) -> bool:
        return self.pair(key) is not None

    def keys(self) -> list[str]:
        return [str(p.key.value) for p in self.items]


@dataclass(slots=True)
class YSeq:
    items: list[YNode]
    span: Span


YNode = YMap | YSeq | YScalar


class YamlError(Exception):
    """A YAML syntax error with the position libyaml reported."""

    def __init__(self, message: str, span: Span) -> None:
        super().__init__(message)
        self.message = message
        self.span = span


def _span(node: yaml.Node) -> Span:
    s, e = node.start_mark, node.end_mark
    return Span(s.line, s.column, e.line, e.column)


def _scalar_value(node: yaml.ScalarNode) -> Any:
    ctor = _constructor.yaml_constructors.get(node.tag)
    if ctor is None or node.tag == _STR:
        return node.value
    try:
        return ctor(_constructor, node)
    except Exception:  # an odd explicit tag: keep the text
        return node.value


def _convert(node: yaml.Node, memo: dict[int, YNode]) -> YNode:
    got = memo.get(id(node))
    if got is not None:
        return got
    if isinstance(node, yaml.ScalarNode):
        out: YNode = YScalar(_scalar_value(node), _span(node), node.tag, node.style in ("'", '"'), node.value)
        memo[id(node)] = out
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = YSeq([], _span(node))
        memo[id(node)] = seq
        seq.items = [_convert(n, memo) for n in node.value]
        return seq
    assert isinstance(node, yaml.MappingNode)
    ymap = YMap([], _span(node))
    memo[id(node)] = ymap
    merged: list[YPair] = []
    own: list[YPair] = []
    for knode, vnode in node.value:
        if knode.tag == _MERGE:
            sources = vnode.value if isinstance(vnode, yaml.SequenceNode) else [vnode]
            for src in sources:
                conv = _convert(src, memo)
                if isinstance(conv, YMap):
                    merged.extend(conv.items)
            continue
        key = _convert(knode, memo)
        if not isinstance(key, YScalar):  # complex keys: dbt never uses them; keep their text
            key = YScalar(str(knode.value), _span(knode), _STR)
        own.append(YPair(key, _convert(vnode, memo)))
    seen: dict[Any, YScalar] = {}
    for p in own:
        try:
            first = seen.get(p.key.value)
        except TypeError:
            first = None
        if first is not None:
            ymap.duplicates.append((first, p.key))
        else:
            with contextlib.suppress(TypeError):
                seen[p.key.value] = p.key
    explicit = {p.key.value for p in own if _hashable(p.key.value)}
    ymap.items = [p for p in merged if not (_hashable(p.key.value) and p.key.value in explicit)] + own
    return ymap


def _hashable(v: Any) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True


def parse_yaml(text: str) -> YNode | None:
    """Parse one YAML document. Returns None for an empty document; raises YamlError."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line, mark.column) if mark is not None else (0, 0)
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{problem} ({exc.context})"
        raise YamlError(problem, Span(line, col, line, col + 1)) from exc
    except yaml.YAMLError as exc:
        raise YamlError(str(exc), Span(0, 0, 0, 1)) from exc
    if node is None:
        return None
    return _convert(node, {})


def to_plain(node: YNode | None) -> Any:
    """The Python value of a node, as ``yaml.safe_load`` would give it."""
    if node is None:
        return None
    if isinstance(node, YScalar):
        return node.value
    if isinstance(node, YSeq):
        return [to_plain(n) for n in node.items]
    out: dict[Any, Any] = {}
    for p in node.items:
        try:
            out[p.key.value] = to_plain(p.value)
        except TypeError:
            out[str(p.key.value)] = to_plain(p.value)
    return out


def key_value_span(pair: YPair) -> Span:
    """From the start of the key to the end of the value."""
    return Span(pair.key.span.line, pair.key.span.col, pair.value.span.end_line, pair.value.span.end_col)
