"""The knee of the latency-vs-load curve: where p95 starts to grow with the load. Pure.

Slopes are read on log-log axes (elasticities): a flat latency has slope 0, one that grows as
fast as the load has slope 1 (a closed system past saturation: Little's law), an exploding one
more. The knee is the highest measured level such that

- the curve up to it is flat: at least two levels, p95 within ``RISE`` of its lowest there,
  and a slope of at most ``FLAT`` from the first level to it;
- every level above it has a p95 more than ``RISE`` above the knee's;
- from the knee to the next level up, p95 grows at least ``STEEP`` as fast as the load.

Otherwise (flat all along, growing steadily all along, or noise) there is no knee.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sla_runner import numbers

RISE = 0.2
"""p95 more than 20% above the knee's is no longer flat; within 20% of the lowest, it is."""
FLAT = 0.25
"""The most slope (log-log) of the flat part."""
STEEP = 0.75
"""The least slope (log-log) from the knee to the next level: about as fast as the load."""


@dataclass(frozen=True)
class CurveKnee:
    level: int
    p95_ms: float
    slope_below: float
    slope_above: float


def _slope(a: tuple[int, float], b: tuple[int, float]) -> float:
    return math.log(b[1] / a[1]) / math.log(b[0] / a[0])


def find_knee(curve: Sequence[tuple[int, float]]) -> CurveKnee | None:
    """The knee of ``curve``, (level, p95 in ms) pairs in any order; None without one."""
    points = sorted({lv: p for lv, p in curve if lv > 0 and p > 0}.items())
    for k in range(len(points) - 2, 0, -1):
        flat, above = points[: k + 1], points[k + 1 :]
        knee = points[k]
        lowest = min(p for _, p in flat)
        if max(p for _, p in flat) > lowest * (1 + RISE):
            continue
        if min(p for _, p in above) <= knee[1] * (1 + RISE):
            continue
        below, rise = _slope(points[0], knee), _slope(knee, above[0])
        if below <= FLAT and rise >= STEEP:
            return CurveKnee(knee[0], knee[1], below, rise)
    return None


def knee_message(knee: CurveKnee, curve: Sequence[tuple[int, float]], unit: str) -> str:
    """The knee as a finding: what p95 did below it and above it, in the curve's figures."""
    by_level = dict(sorted(curve))
    low, high = min(by_level), max(by_level)

    def span(a: int, b: int) -> str:
        load = b / a
        p95 = by_level[b] / by_level[a]
        return (
            f"from {_level(a, unit)} to {_level(b, unit)} (load x{numbers.number(load)}) p95 "
            f"went from {numbers.number(by_level[a])} ms to {numbers.number(by_level[b])} ms "
            f"(x{numbers.number(p95)})"
        )

    parts = [f"the p95 latency's knee is at about {_level(knee.level, unit)}"]
    if low < knee.level:
        parts.append(span(low, knee.level))
    if high > knee.level:
        parts.append(span(knee.level, high))
    return "; ".join(parts)


def _level(level: int, unit: str) -> str:
    return f"{level}/s" if unit == "/s" else f"{level} users"
