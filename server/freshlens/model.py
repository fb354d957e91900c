"""Plain value types shared by every layer: positions, findings, dynamic values.

Positions are 0-based lines and 0-based columns counted in Unicode code points, end exclusive.
Conversion to the client's encoding (UTF-16 for VS Code) happens once, in ``freshlens.lsp``.
The CLI prints 1-based lines and columns.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple


class Span(NamedTuple):
    """A range in one file: 0-based line/column (code points), end exclusive.

    A named tuple rather than a frozen dataclass: indexing creates hundreds of thousands of them, and
    a tuple is several times cheaper to build while staying immutable, hashable and ordered.
    """

    line: int
    col: int
    end_line: int
    end_col: int

    @staticmethod
    def point(line: int, col: int) -> Span:
        return Span(line, col, line, col)

    def contains(self, line: int, col: int) -> bool:
        if (line, col) < (self.line, self.col):
            return False
        return (line, col) <= (self.end_line, self.end_col)


@dataclass(frozen=True, slots=True)
class Loc:
    """A span in a file. ``path`` is an absolute, normalised filesystem path."""

    path: str
    span: Span


class Severity(enum.IntEnum):
    """Same numbering as LSP's DiagnosticSeverity."""

    ERROR = 1
    WARNING = 2
    INFORMATION = 3
    HINT = 4

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Related:
    loc: Loc
    message: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One diagnostic: a stable code, the spec rule it implements, and the exact range."""

    code: str
    severity: Severity
    message: str
    loc: Loc
    rule: str = ""
    related: tuple[Related, ...] = ()
    # Machine-readable hints for quick fixes (e.g. {"fix": "add_plus"}); never shown to users.
    data: tuple[tuple[str, str], ...] = ()

    def sort_key(self) -> tuple[str, Span, str]:
        return (self.loc.path, self.loc.span, self.code)


@dataclass(frozen=True, slots=True)
class Dynamic:
    """A value computed by Jinja (``var()``, ``env_var()``, an expression): kept as text, never guessed."""

    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a config value came from: the file/line of the key, and which layer set it."""

    layer: str  # "dbt_project.yml", "properties", "sql", "source", "table", "default"
    loc: Loc | None
    detail: str = ""


@dataclass(slots=True)
class ParseProblem:
    """A problem met while reading a file, turned into a finding by the rules layer."""

    code: str
    message: str
    loc: Loc
    severity: Severity = Severity.ERROR
    rule: str = ""
    related: list[Related] = field(default_factory=list)
