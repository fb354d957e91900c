"""Offsets to positions."""

from __future__ import annotations

from bisect import bisect_right

from freshlens.model import Span


class LineIndex:
    """Maps character offsets of one text to 0-based (line, column) pairs."""

    __slots__ = ("starts",)

    def __init__(self, text: str) -> None:
        starts = [0]
        find = text.find
        i = find("\n")
        while i != -1:
            starts.append(i + 1)
            i = find("\n", i + 1)
        self.starts = starts

    def pos(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self.starts, offset) - 1
        return line, offset - self.starts[line]

    def span(self, start: int, end: int) -> Span:
        a, b = self.pos(start), self.pos(end)
        return Span(a[0], a[1], b[0], b[1])
