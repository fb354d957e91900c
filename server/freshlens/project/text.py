"""Offsets to positions, and reading files the way dbt does."""

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


def decode(data: bytes) -> tuple[str, str | None]:
    """Decode file bytes as dbt does (UTF-8, BOM tolerated). Returns (text, problem)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        return text, (
            f"this file is not valid UTF-8 (byte {exc.start}: {data[exc.start : exc.start + 1]!r}); "
            "dbt reads files as UTF-8 — re-save it as UTF-8"
        )
