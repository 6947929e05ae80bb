"""Figures as people read them, in messages, findings and tables, and as the verdict stores
them (rounded to what they mean): pure formatting."""

from __future__ import annotations

import math
from collections.abc import Callable

MIB = 1024**2
GIB = 1024**3


def number(value: float) -> str:
    """``48120`` → ``48,120``; ``245.375`` → ``245.4``; ``0.25`` → ``0.25``."""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.1f}"
    if magnitude >= 1:
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def count(n: int) -> str:
    return f"{n:,}"


def size(n_bytes: float) -> str:
    """Bytes in the spec's binary units (1 MB = 1024 KB), as the grammar reads them."""
    if abs(n_bytes) >= GIB:
        return f"{number(n_bytes / GIB)} GB"
    if abs(n_bytes) >= MIB:
        return f"{number(n_bytes / MIB)} MB"
    if abs(n_bytes) >= 1024:
        return f"{number(n_bytes / 1024)} KB"
    return f"{number(n_bytes)} B"


def value(v: float, unit: str) -> str:
    """A value in a threshold's normalised unit: ms, B, %, /s or none."""
    if unit == "B":
        return size(v)
    if unit == "ms":
        return f"{number(v)} ms"
    if unit in ("%", "/s"):
        return f"{number(v)}{unit}"
    return number(v)


def observed(v: float, limit: float, unit: str) -> str:
    """``v`` as :func:`value` writes it, with more digits where it would read as ``limit``.

    A failing ``success_rate(http) > 99.9%`` observed at 99.899% must not read "99.9%".
    """
    text = value(v, unit)
    scale, suffix = 1.0, {"ms": " ms", "%": "%", "/s": "/s"}.get(unit, "")
    if unit == "B":
        scale, suffix = next(((s, n) for s, n in _SIZES if abs(v) >= s), (1.0, " B"))
    shown = text.removesuffix(suffix).replace(",", "")
    try:
        reads_as_limit = float(shown) * scale == limit
    except ValueError:  # nan, inf
        reads_as_limit = False
    if v == limit or not reads_as_limit:
        return text
    for digits in range(1, 12):
        mine = f"{v / scale:,.{digits}f}"
        if mine != f"{limit / scale:,.{digits}f}":
            return mine.rstrip("0").rstrip(".") + suffix
    return text


_SIZES = ((float(GIB), " GB"), (float(MIB), " MB"), (1024.0, " KB"))


def percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "0%"


# -- figures as the verdict stores them -----------------------------------------------------

DIGITS: dict[str, int] = {"ms": 3, "%": 3, "/s": 3, "B": 0, "": 3, "s": 3}
"""Digits the JSON verdict keeps after the decimal point, per unit: a latency to the
microsecond, a percentage or a rate to a thousandth, a size to the byte, a duration to the
millisecond, a count or a number of users to a thousandth (a mean)."""


def stored(v: float, unit: str) -> float:
    """``v`` rounded to what it means in ``unit`` (see :data:`DIGITS`)."""
    return float(round(v, DIGITS[unit]))


def stored_limit(limit: float, unit: str, same: Callable[[float], bool]) -> float:
    """A threshold's ``limit`` rounded as :func:`stored` rounds an observed value, keeping
    three significant digits (``1/h`` is 0.000278/s, not 0) and, where ``same`` (the
    observed value's side of it) would change, as many as it takes."""
    if limit == 0 or math.isinf(limit) or math.isnan(limit):
        return limit
    digits = max(DIGITS[unit], 2 - math.floor(math.log10(abs(limit))))
    for kept in range(digits, 17):
        if same(rounded := float(round(limit, kept))):
            return rounded
    return limit


def stored_against(v: float, unit: str, holds: Callable[[float], bool]) -> tuple[float, int]:
    """``v`` rounded as :func:`stored` does, with more digits where fewer would land it on
    the other side of its limit (99.8999% against ``>= 99.9%`` stays 99.8999); and the
    digits kept."""
    verdict = holds(v)
    for digits in range(DIGITS[unit], 13):
        if holds(rounded := float(round(v, digits))) == verdict:
            return rounded, digits
    return v, 17
