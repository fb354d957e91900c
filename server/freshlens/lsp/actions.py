"""Quick fixes: each finding that carries a ``fix`` hint becomes one code action with a text edit.

Edits are computed on the document's own text (code points) and converted to the client's
position encoding by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from freshlens.model import Span


@dataclass(frozen=True, slots=True)
class Edit:
    span: Span
    new_text: str


@dataclass(frozen=True, slots=True)
class Fix:
    title: str
    edits: tuple[Edit, ...]


ZERO_YAML = "{build_after: {count: 0, period: minute}}"
ZERO_SQL = '{"build_after": {"count": 0, "period": "minute"}}'


def quick_fix(
    fix: str, code: str, span: Span, lines: list[str], is_sql: bool, data: dict[str, str] | None = None
) -> Fix | None:
    """The edit for a finding's ``fix`` hint at ``span`` of a document with ``lines``."""
    if span.line >= len(lines):
        return None
    if fix in ("add_period", "add_count") and data and "value" in data:
        return _add_missing(fix[4:], Span(*(int(x) for x in data["value"].split(","))), lines, is_sql)
    if fix == "add_plus":
        return Fix(
            "Add the + prefix (a config, not a folder)",
            (Edit(Span(span.line, span.col, span.line, span.col), "+"),),
        )
    if fix.startswith("rename:"):
        new = fix.split(":", 1)[1]
        return Fix(f"Rename to {new}", (Edit(span, new),))
    if fix == "explicit_zero":
        return Fix(
            "Replace null with an explicit build_after of 0 (no time gate)",
            (Edit(span, ZERO_SQL if is_sql else ZERO_YAML),),
        )
    if fix == "drop_loaded_at":
        line = lines[span.line]
        key = line[span.col : span.end_col] if span.end_line == span.line else ""
        if not line.strip().startswith(key) or not key:
            return None  # the key shares its line with others (flow style): no safe edit
        return Fix(f"Remove {key} (keep the other one)", (Edit(Span(span.line, 0, span.line + 1, 0), ""),))
    if fix == "move_into_config":
        return _move_into_config(span, lines)
    if fix == "empty_freshness":
        return Fix("Replace null with {} (no freshness at all here)", (Edit(span, "{}"),))
    if fix == "add_loaded_at_field":
        return _add_loaded_at_field(span, lines, is_sql)
    if not fix:
        return value_fix(code, span, lines, is_sql)
    return None


# Codes whose offending value has exactly one intended spelling: the allowed values.
_ENUM_FIXES: dict[str, tuple[str, ...]] = {
    "FL102": ("minute", "hour", "day"),
    "FL124": ("minute", "hour", "day"),
    "FL103": ("any", "all"),
    "FL209": ("any", "all"),
    "FL210": ("never", "if_missing", "always"),
}
_ALIASES = {"if_table_missing": "if_missing", "minutes": "minute", "hours": "hour", "days": "day"}
_TRUE, _FALSE = ("true", "yes", "on", "y"), ("false", "no", "off", "n")


def _replacement(code: str, raw: str, is_sql: bool) -> tuple[str, bool] | None:
    """(new value, keep the quotes) for an unambiguous fix of the value ``raw`` (unquoted), or None."""
    from freshlens.durations import DurationError, parse_duration

    low = raw.strip().lower()
    allowed = _ENUM_FIXES.get(code)
    if allowed is not None:
        want = _ALIASES.get(low, low)
        return (want, True) if want in allowed and want != raw else None
    if code == "FL211":
        if low in _TRUE or low in _FALSE:
            val = low in _TRUE
            return ("True" if val else "False") if is_sql else ("true" if val else "false"), False
        return None
    if code in ("FL104", "FL131"):
        t = raw.strip()
        if t.lstrip("-").isdigit():
            return str(int(t)), False
        try:
            f = float(t)
        except ValueError:
            return None
        return (str(int(f)), False) if f.is_integer() else None
    if code == "FL206":
        cand = raw.strip()
        cand = cand[:-1] + cand[-1].lower() if cand and cand[-1] in "HDWS" else cand  # 1H -> 1h, not 1M
        if cand == raw:
            return None
        try:
            parse_duration(cand)
        except DurationError:
            return None
        return cand, True
    return None


def value_fix(code: str, span: Span, lines: list[str], is_sql: bool) -> Fix | None:
    """Rewrite an invalid value whose intended spelling is unambiguous (``Hours`` -> ``hour``, ``'4'`` -> ``4``)."""
    if span.end_line != span.line or span.line >= len(lines):
        return None
    text = lines[span.line][span.col : span.end_col]
    quote = text[0] if len(text) >= 2 and text[0] in "'\"" and text[-1] == text[0] else ""
    raw = text[1:-1] if quote else text
    got = _replacement(code, raw, is_sql)
    if got is None:
        return None
    new, keep_quotes = got
    if keep_quotes and (quote or is_sql):
        q = quote or "'"
        new = f"{q}{new}{q}"
    return Fix(f"Change to {new}", (Edit(span, new),))


def fix_all(fixes: list[Fix]) -> Fix | None:
    """One fix made of several non-overlapping ones (the "fix all of this kind in the file" action)."""
    edits = sorted((e for f in fixes for e in f.edits), key=lambda e: (e.span.line, e.span.col))
    for a, b in pairwise(edits):
        if (a.span.end_line, a.span.end_col) > (b.span.line, b.span.col) or a.span == b.span:
            return None  # overlapping edits: apply them one by one instead
    if len(fixes) < 2:
        return None
    return Fix(f"Fix all {len(fixes)} in this file", tuple(edits))


def _add_missing(key: str, value: Span, lines: list[str], is_sql: bool) -> Fix | None:
    """Add the missing half of build_after (period: hour / count: 1) inside its mapping."""
    default = {"period": ("hour", '"hour"'), "count": ("1", "1")}[key]
    end_line, end_col = value.end_line, value.end_col
    if end_line < len(lines) and end_col > 0 and lines[end_line][end_col - 1] == "}":  # flow mapping / dict
        text = f', "{key}": {default[1]}' if is_sql else f", {key}: {default[0]}"
        at = Span(end_line, end_col - 1, end_line, end_col - 1)
        return Fix(f"Add {key}: {default[0]}", (Edit(at, text),))
    if is_sql:
        return None
    # a block mapping: its last line is the last one indented at least as deep as its first key
    last = value.line
    for i in range(value.line + 1, len(lines)):
        text = lines[i]
        if text.strip() and len(text) - len(text.lstrip(" ")) < value.col:
            break
        if text.strip():
            last = i
    return Fix(
        f"Add {key}: {default[0]}",
        (Edit(Span(last + 1, 0, last + 1, 0), " " * value.col + f"{key}: {default[0]}\n"),),
    )


# What the FL305 fix inserts: visibly a placeholder, so dbt fails loudly until the column is named.
LOADED_AT_PLACEHOLDER = "<timestamp_column>"


def _add_loaded_at_field(key: Span, lines: list[str], is_sql: bool) -> Fix | None:
    """Insert a sibling ``loaded_at_field`` before the ``freshness`` key at ``key`` (FL305)."""
    line = lines[key.line]
    name = line[key.col : key.end_col] if key.end_line == key.line else ""
    title = f"Add loaded_at_field beside freshness (then replace {LOADED_AT_PLACEHOLDER})"
    if is_sql:
        if name != "freshness" or "loaded_at_field" in line:
            return None
        text = f'loaded_at_field="{LOADED_AT_PLACEHOLDER}", '
        return Fix(title, (Edit(Span(key.line, key.col, key.line, key.col), text),))
    if name not in ("freshness", "+freshness") or line[: key.col].strip():
        return None  # flow style or the entry's first key: left to the user
    start = key.line
    while start > 0 and (
        not lines[start - 1].strip() or len(lines[start - 1]) - len(lines[start - 1].lstrip(" ")) >= key.col
    ):
        start -= 1
    block = lines[start : _block_end(lines, key.line, key.col - 1)]
    prefix = "+" if name.startswith("+") else ""
    if any(b[key.col :].startswith(f"{prefix}loaded_at_field:") for b in block):
        return None  # an empty one is already there: the user names the column
    text = " " * key.col + f'{prefix}loaded_at_field: "{LOADED_AT_PLACEHOLDER}"\n'
    return Fix(title, (Edit(Span(key.line, 0, key.line, 0), text),))


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """The line after the block that starts at ``start`` (a key at ``indent``)."""
    i = start + 1
    while i < len(lines):
        text = lines[i]
        if text.strip() and (len(text) - len(text.lstrip(" "))) <= indent:
            break
        i += 1
    while i > start + 1 and not lines[i - 1].strip():
        i -= 1
    return i


def _move_into_config(span: Span, lines: list[str]) -> Fix | None:
    """Move a top-level ``freshness:``/``state:`` block of an entry under its ``config:``."""
    indent = span.col
    if indent < 2 or lines[span.line][:indent].strip():
        return None  # the key is the entry's first (`- freshness:`): left to the user
    end = _block_end(lines, span.line, indent)
    moved = "".join("  " + b + "\n" for b in lines[span.line : end])
    start = span.line
    while start > 0 and not (
        lines[start][indent - 2 : indent] == "- " and not lines[start][: indent - 2].strip()
    ):
        start -= 1
    stop = start + 1
    while stop < len(lines) and (
        not lines[stop].strip() or len(lines[stop]) - len(lines[stop].lstrip()) >= indent
    ):
        stop += 1
    cfg = next((i for i in range(start + 1, stop) if lines[i].rstrip() == " " * indent + "config:"), None)
    title = "Move under config: (dbt ignores it here)"
    if cfg is None:
        return Fix(title, (Edit(Span(span.line, 0, end, 0), " " * indent + "config:\n" + moved),))
    return Fix(title, (Edit(Span(cfg + 1, 0, cfg + 1, 0), moved), Edit(Span(span.line, 0, end, 0), "")))


def state_equivalent(count: int, period: str, updates_on: str) -> str:
    """dbt State's equivalent of a build_after (spec dbt-state.md §7.1, D19): lag_tolerance + policy."""
    unit = {"minute": "m", "hour": "h", "day": "d"}[period]
    parts = [f"lag_tolerance: {count}{unit}" if count > 0 else "lag_tolerance: 0s"]
    if updates_on == "all":
        parts.append("require_fresh_data_from: all")
    return "{" + ", ".join(parts) + "}"


def add_state_block(key: Span, lines: list[str], state_key: str, block: str) -> Fix | None:
    """Insert ``state_key: block`` as a sibling after the ``freshness`` entry whose key is at ``key``."""
    if key.line >= len(lines):
        return None
    indent = key.col
    end = _block_end(lines, key.line, indent)
    for i in range(max(0, key.line - 50), min(len(lines), end + 50)):
        t = lines[i]
        if len(t) - len(t.lstrip(" ")) == indent and t.strip().startswith(
            (state_key + ":", "state:", "+state:")
        ):
            return None  # a state block is already there
    text = " " * indent + f"{state_key}: {block}\n"
    return Fix(f"Add the dbt State equivalent ({state_key}: {block})", (Edit(Span(end, 0, end, 0), text),))
