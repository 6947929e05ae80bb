"""Figures as people read them, in messages, findings and tables: pure formatting."""

from __future__ import annotations

import math

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


def percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "0%"
