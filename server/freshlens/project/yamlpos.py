"""YAML with exact positions.

dbt loads YAML with PyYAML's libyaml-backed ``CSafeLoader``; we compose with the same C parser so
that what dbt accepts (trailing tabs, for example) we accept too, and so that every key and value
keeps its range. The composed node graph is turned into a small tree of our own: ``YMap``,
``YSeq`` and ``YScalar``. Merge keys (``<<``) are flattened the way PyYAML's constructor does, and
duplicate keys are recorded (the last one wins, as in dbt).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import yaml

from freshlens.model import Span
from freshlens.project.limits import MAX_NESTING, MAX_PARSE_SECONDS, MAX_YAML_NODES

try:  # pragma: no cover - depends on how PyYAML was built
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]
# libyaml's parser on its own (None without libyaml): events without PyYAML's generator around it
_CParser: Any = getattr(getattr(yaml, "_yaml", None), "CParser", None)

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


class YamlLimit(YamlError):
    """The document is valid YAML but beyond what freshlens analyses (see ``freshlens.project.limits``)."""


def _hashable(v: Any) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True


_resolver = yaml.resolver.Resolver()
_TAG_CACHE: dict[str, str] = {}
_VALUE_CACHE: dict[tuple[str, str], Any] = {}
# a short plain scalar's text -> (its tag, its value): keys and small values repeat across files, and
# every value of a plain scalar is immutable (str, int, float, bool, None, date), so one can be shared
_PLAIN: dict[str, tuple[str, Any]] = {}
_PLAIN_MAX = 200_000  # a few MB at most; a 10,000-model project has ~25,000 distinct ones


def _plain_tag(value: str) -> str:
    """The tag of a plain scalar, as PyYAML's resolver decides it (cached: keys repeat a lot)."""
    tag = _TAG_CACHE.get(value)
    if tag is None:
        tag = str(_resolver.resolve(yaml.ScalarNode, value, (True, False)))  # type: ignore[no-untyped-call]
        if len(value) < 64:
            _TAG_CACHE[value] = tag
    return tag


def _construct(tag: str, value: str) -> Any:
    if tag == _STR:
        return value
    key = (tag, value)
    try:
        return _VALUE_CACHE[key]
    except KeyError:
        pass
    ctor = _constructor.yaml_constructors.get(tag)
    if ctor is None:
        out: Any = value
    else:
        try:
            out = ctor(_constructor, yaml.ScalarNode(tag, value))
        except Exception:  # an odd explicit tag: keep the text
            out = value
    if len(value) < 64 and _hashable(out):
        _VALUE_CACHE[key] = out
    return out


class _Frame:
    __slots__ = ("anchor", "is_map", "key", "merged", "node", "own", "start")

    def __init__(self, node: YMap | YSeq, anchor: str | None = None, start: int = 0) -> None:
        self.node = node
        self.anchor = anchor
        self.start = start  # the expanded-node count when this collection opened
        self.is_map = isinstance(node, YMap)
        self.key: YScalar | None = None
        self.own: list[YPair] = []
        self.merged: list[YPair] = []


def _finish_map(frame: _Frame) -> None:
    ymap = frame.node
    assert isinstance(ymap, YMap)
    own = frame.own
    seen: dict[Any, YScalar] = {}
    for p in own:
        k = p.key.value
        if not _hashable(k):
            continue
        first = seen.get(k)
        if first is not None:
            ymap.duplicates.append((first, p.key))
        else:
            seen[k] = p.key
    if frame.merged:
        ymap.items = [p for p in frame.merged if not (_hashable(p.key.value) and p.key.value in seen)] + own
    else:
        ymap.items = own


def _build(text: str, dups: list[YMap] | None) -> YNode | None:
    """Build our tree straight from libyaml's events (no intermediate node graph, cached resolution)."""
    anchors: dict[str, YNode] = {}
    # expanded size (nodes, counting each alias as a copy) of every anchored node, and the running
    # total: aliases of aliases ("billion laughs") are stopped at MAX_YAML_NODES before any walk
    sizes: dict[str, int] = {}
    expanded = 0
    open_anchors: set[str] = set()
    stack: list[_Frame] = []
    root: YNode | None = None
    docs = 0
    deadline = time.monotonic() + MAX_PARSE_SECONDS

    def limit(mark: Any, message: str) -> YamlLimit:
        return YamlLimit(message, Span(mark.line, mark.column, mark.line, mark.column + 1))

    def add(node: YNode) -> None:
        nonlocal root
        if not stack:
            root = node
            return
        top = stack[-1]
        if isinstance(top.node, YSeq):
            top.node.items.append(node)
            return
        if top.key is None:
            if isinstance(node, YScalar):
                top.key = node
            else:  # complex keys: dbt never uses them; keep a short placeholder (never the node's repr)
                top.key = YScalar(f"<{type(node).__name__} key>", node.span, _STR)
            return
        key, top.key = top.key, None
        if key.tag == _MERGE:
            sources = node.items if isinstance(node, YSeq) else [node]
            for src in sources:
                if isinstance(src, YMap):
                    top.merged.extend(src.items)
            return
        top.own.append(YPair(key, node))

    # libyaml's parser itself, event by event: PyYAML's yaml.parse() wraps it in a generator that
    # asks twice per event (a quarter of the reading time of a large project's YAML, measured)
    next_event: Callable[[], Any]
    if _CParser is not None:
        next_event = _CParser(text).get_event
    else:  # pragma: no cover - PyYAML without libyaml
        events: Iterator[Any] = iter(yaml.parse(text, Loader=_Loader))
        next_event = partial(next, events, None)
    scalar_event = yaml.ScalarEvent
    new_span = tuple.__new__  # Span's own __new__ is a Python function: twice as slow, per scalar
    plain = _PLAIN
    count = 0
    while True:
        ev = next_event()
        if ev is None:
            break
        cls = ev.__class__
        count += 1
        if count & 1023 == 0 and time.monotonic() > deadline:
            raise limit(ev.start_mark, f"reading this file took over {MAX_PARSE_SECONDS:g} s")
        if cls is scalar_event:
            expanded += 1
            sm, em = ev.start_mark, ev.end_mark
            value = ev.value
            style = ev.style
            etag = ev.tag
            if etag is not None and etag != "!":
                tag, constructed = etag, _construct(etag, value)
            elif not style and ev.implicit[0]:
                known = plain.get(value)
                if known is None:
                    tag = _plain_tag(value)
                    known = (tag, _construct(tag, value))
                    if len(value) < 64:
                        if len(plain) >= _PLAIN_MAX:  # bounded in a long-lived server
                            plain.clear()
                        plain[value] = known
                tag, constructed = known
            else:
                tag, constructed = _STR, value
            node: YNode = YScalar(
                constructed,
                new_span(Span, (sm.line, sm.column, em.line, em.column)),
                tag,
                style == "'" or style == '"',
                value,
            )
            if ev.anchor:
                anchors[ev.anchor] = node
                sizes[ev.anchor] = 1
            # the common case inline: a key, or a scalar value of a plain key, or a list item
            top = stack[-1] if stack else None
            if top is None:
                add(node)
            elif top.is_map:
                if top.key is None:
                    top.key = node  # type: ignore[assignment]
                elif top.key.tag != _MERGE:
                    top.own.append(YPair(top.key, node))
                    top.key = None
                else:
                    add(node)
            else:
                top.node.items.append(node)  # type: ignore[arg-type]
        elif cls is yaml.MappingStartEvent or cls is yaml.SequenceStartEvent:
            sm = ev.start_mark
            expanded += 1
            if len(stack) >= MAX_NESTING:
                raise limit(sm, f"this YAML nests more than {MAX_NESTING} levels deep")
            sp = new_span(Span, (sm.line, sm.column, sm.line, sm.column))
            coll: YMap | YSeq = YMap([], sp) if cls is yaml.MappingStartEvent else YSeq([], sp)
            if ev.anchor:
                anchors[ev.anchor] = coll
                open_anchors.add(ev.anchor)
            stack.append(_Frame(coll, ev.anchor, expanded))
        elif cls is yaml.MappingEndEvent:
            frame = stack.pop()
            if frame.anchor:
                open_anchors.discard(frame.anchor)
                sizes[frame.anchor] = expanded - frame.start + 1
            em = ev.end_mark
            sp = frame.node.span
            frame.node.span = new_span(Span, (sp.line, sp.col, em.line, em.column))
            _finish_map(frame)
            if dups is not None and frame.node.duplicates:  # type: ignore[union-attr]
                dups.append(frame.node)  # type: ignore[arg-type]
            add(frame.node)
        elif cls is yaml.SequenceEndEvent:
            frame = stack.pop()
            if frame.anchor:
                open_anchors.discard(frame.anchor)
                sizes[frame.anchor] = expanded - frame.start + 1
            em = ev.end_mark
            sp = frame.node.span
            frame.node.span = new_span(Span, (sp.line, sp.col, em.line, em.column))
            add(frame.node)
        elif cls is yaml.AliasEvent:
            got = anchors.get(ev.anchor)
            if got is None:
                sm = ev.start_mark
                raise YamlError(
                    f"found undefined alias {ev.anchor!r}", Span(sm.line, sm.column, sm.line, sm.column + 1)
                )
            if ev.anchor in open_anchors:
                raise limit(
                    ev.start_mark,
                    f"the alias *{ev.anchor} is used inside the node it names (a cycle)",
                )
            expanded += sizes.get(ev.anchor, 1)
            if expanded > MAX_YAML_NODES:
                raise limit(
                    ev.start_mark,
                    f"its aliases expand to more than {MAX_YAML_NODES:,} nodes (an alias bomb)",
                )
            add(got)
        elif cls is yaml.DocumentStartEvent:
            docs += 1
            if docs > 1:
                sm = ev.start_mark
                raise YamlError(
                    "expected a single document in the stream, but found another document",
                    Span(sm.line, sm.column, sm.line, sm.column + 1),
                )
    return root


def parse_yaml(text: str, dups: list[YMap] | None = None) -> YNode | None:
    """Parse one YAML document. Returns None for an empty document; raises YamlError.

    ``dups``, when given, receives every mapping that has duplicate keys.
    """
    try:
        return _build(text, dups)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line, mark.column) if mark is not None else (0, 0)
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{problem} ({exc.context})"
        raise YamlError(problem, Span(line, col, line, col + 1)) from exc
    except yaml.YAMLError as exc:
        raise YamlError(str(exc), Span(0, 0, 0, 1)) from exc
    except UnicodeEncodeError as exc:
        # An editor buffer can hold a lone UTF-16 surrogate (the protocol's JSON allows "\ud800");
        # libyaml takes UTF-8 only. Found by tests/fuzz.
        line = text.count("\n", 0, exc.start)
        col = exc.start - (text.rfind("\n", 0, exc.start) + 1)
        raise YamlError(
            f"U+{ord(text[exc.start]):04X} is a lone surrogate, not a Unicode character; delete it",
            Span(line, col, line, col + 1),
        ) from None


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
