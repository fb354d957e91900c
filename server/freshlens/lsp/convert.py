"""Core values to protocol types, in one place (code points -> the client's position encoding)."""

from __future__ import annotations

from collections.abc import Callable

from lsprotocol import types
from pygls.uris import from_fs_path
from pygls.workspace.position_codec import PositionCodec

from freshlens.model import Finding, Span
from freshlens.rules.codes import docs_url


def to_range(span: Span, codec: PositionCodec, lines: list[str]) -> types.Range:
    return codec.range_to_client_units(
        lines,
        types.Range(
            start=types.Position(line=span.line, character=span.col),
            end=types.Position(line=span.end_line, character=span.end_col),
        ),
    )


def to_diagnostic(
    f: Finding, codec: PositionCodec, lines_for: Callable[[str], list[str]]
) -> types.Diagnostic:
    related = [
        types.DiagnosticRelatedInformation(
            location=types.Location(
                uri=from_fs_path(r.loc.path) or r.loc.path,
                range=to_range(r.loc.span, codec, lines_for(r.loc.path)),
            ),
            message=r.message,
        )
        for r in f.related
    ]
    return types.Diagnostic(
        range=to_range(f.loc.span, codec, lines_for(f.loc.path)),
        message=f.message,
        severity=types.DiagnosticSeverity(int(f.severity)),
        code=f.code,
        code_description=types.CodeDescription(href=docs_url(f.code)),
        source="freshlens",
        related_information=related or None,
        data={"rule": f.rule, **dict(f.data)} if f.data or f.rule else None,
    )
