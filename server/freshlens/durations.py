"""The ``lag_tolerance`` duration grammar of dbt v2 / Fusion (spec/dbt-state.md §2.3.2, §2.5).

``parse_duration("1h 30m") -> 5400``. Errors carry the engine's own wording so diagnostics can
quote it. ``portability_notes`` lists what the Python client (dbt Core 1.7–1.12) reads differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

_UNITS: dict[str, Fraction] = {}
for names, secs in (
    (("nanos", "nsec", "ns"), Fraction(1, 10**9)),
    (("usec", "us", "µs"), Fraction(1, 10**6)),
    (("millis", "msec", "ms"), Fraction(1, 1000)),
    (("seconds", "second", "secs", "sec", "s"), Fraction(1)),
    (("minutes", "minute", "min", "mins", "m"), Fraction(60)),
    (("hours", "hour", "hr", "hrs", "h"), Fraction(3600)),
    (("days", "day", "d"), Fraction(86400)),
    (("weeks", "week", "wk", "wks", "w"), Fraction(7 * 86400)),
    (("months", "month", "M"), Fraction(2_630_016)),
    (("years", "year", "yr", "yrs", "y"), Fraction(31_557_600)),
):
    for n in names:
        _UNITS[n] = secs

# The documented, portable subset (spec/dbt-state.md §2.3.1).
PORTABLE_UNITS = {
    "s",
    "second",
    "seconds",
    "m",
    "minute",
    "minutes",
    "h",
    "hour",
    "hours",
    "d",
    "day",
    "days",
    "w",
    "week",
    "weeks",
}

SUPPORTED = "ns, us/µs, ms, sec, min, hours, days, weeks, months, years (and few variations)"


class DurationError(ValueError):
    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f'invalid lag_tolerance duration "{source}": {reason}')
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Duration:
    seconds: int
    items: tuple[tuple[str, str], ...]  # (number text, unit text)


def parse_duration(source: str) -> Duration:
    s = source
    if s.strip() == "":
        raise DurationError(source, "value was empty")
    if s == "0":
        return Duration(0, ())
    i = 0
    n = len(s)
    total = Fraction(0)
    items: list[tuple[str, str]] = []
    while i < n and s[i].isspace():
        i += 1
    while i < n:
        start = i
        while i < n and s[i].isdigit():
            i += 1
        if i < n and s[i] == "." and i > start:
            i += 1
            while i < n and s[i].isdigit():
                i += 1
        if i == start:
            raise DurationError(source, f"expected number at {len(s[:start].encode())}")
        num = s[start:i]
        while i < n and s[i].isspace():
            i += 1
        ustart = i
        while i < n and (s[i].isalpha() or s[i] == "µ"):
            i += 1
        unit = s[ustart:i]
        if not unit:
            if i < n:
                raise DurationError(source, f"invalid character at {len(s[:i].encode())}")
            raise DurationError(source, f"time unit needed, for example {num}sec or {num}ms")
        if unit not in _UNITS:
            raise DurationError(source, f'unknown time unit "{unit}", supported units: {SUPPORTED}')
        total += Fraction(num) * _UNITS[unit]
        items.append((num, unit))
        while i < n and s[i].isspace():
            i += 1
    if total.denominator != 1:
        raise DurationError(source, "expected a whole number of seconds, minutes, hours, or days")
    if total > 2**63 - 1:
        raise DurationError(source, "duration is too large")
    return Duration(int(total), tuple(items))


def portability_notes(source: str, d: Duration) -> list[str]:
    """Where the Python client (dbt Core + dbt-state plugin) reads this string differently."""
    notes: list[str] = []
    for num, unit in d.items:
        if unit not in PORTABLE_UNITS:
            if unit == "M":
                notes.append("`M` is one month in dbt v2/Fusion but one minute in the dbt Core plugin")
            else:
                notes.append(f"unit `{unit}` is outside the documented set (s, m, h, d, w)")
        if "." in num:
            notes.append(f"`{num}` is a fraction; the documented form is a whole number")
    if len(d.items) > 1:
        notes.append("combined durations are not in the documented form `<number><unit>`")
    if source != source.strip() or any(c.isspace() for c in source.strip()):
        notes.append("spaces are not in the documented form `<number><unit>`")
    return notes


def format_seconds(seconds: int) -> str:
    """humantime-style: ``5400 -> '1h 30m'``, ``86400 -> '1day'``."""
    if seconds == 0:
        return "0s"
    parts = []
    rest = seconds
    for unit, size in (("day", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        q, rest = divmod(rest, size)
        if q:
            parts.append(f"{q}{unit}{'s' if unit == 'day' and q > 1 else ''}")
    return " ".join(parts)


PERIOD_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
