"""How well a run's samples resolve a percentile, for ``compare``. Pure.

A percentile is compared only when each run has at least :data:`MIN_SAMPLES_BEYOND`
samples beyond it (:func:`samples_needed`): p50 needs 20 samples, p95 200, p99 1,000. Of
fewer, the figure is little more than the slowest sample or two (the p99 of 80 samples is
their maximum), and a rerun of the same service moves it by tens of percent.

A percentile compared is read with its uncertainty: the distribution-free 95% confidence
interval of a quantile, between the order statistics of ranks ``n·q ∓ 1.96·√(n·q·(1-q))``
(the binomial's normal approximation; Conover, *Practical Nonparametric Statistics*, 3.2),
taken from the verdict's HDR histogram. A verdict without histograms gives the figure
itself as its interval. A success rate is read with the Wilson score interval of the share
of successes (Wilson 1927): 2 failures in 25 against 3 in 25 is one request's luck.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Final

from sla_runner.metrics.histogram import decode, values_at_percentiles
from sla_runner.verdict import MetricSummary

MIN_SAMPLES_BEYOND: Final = 10
CONFIDENCE_PCT: Final = 95.0
_Z: Final = 1.959964  # the normal quantile of 97.5%: a two-sided 95% interval


def samples_needed(percentile: float) -> int:
    """The samples a run needs for ``percentile`` to be compared: at least
    :data:`MIN_SAMPLES_BEYOND` of them beyond it."""
    beyond = 1 - Fraction(repr(float(percentile))) / 100
    return math.ceil(MIN_SAMPLES_BEYOND / beyond)


def resolves(count: int, percentile: float) -> bool:
    return count >= samples_needed(percentile)


def interval_ms(summary: MetricSummary, percentile: float, point: float) -> tuple[float, float]:
    """The 95% confidence interval of the ``percentile`` of ``summary``'s latencies, in ms;
    ``(point, point)`` without a histogram."""
    if summary.hdr is None:
        return point, point
    hist = decode(summary.hdr)
    n = hist.get_total_count()
    if n == 0:
        return point, point
    q = percentile / 100
    spread = _Z * math.sqrt(n * q * (1 - q))
    low = min(n, max(1, math.floor(n * q - spread)))
    high = min(n, max(1, math.ceil(n * q + spread) + 1))
    # the percentile whose nearest rank is exactly that rank: half a sample below it
    lo_us, hi_us = values_at_percentiles(hist, [100 * (r - 0.5) / n for r in (low, high)])
    return min(lo_us / 1000, point), max(hi_us / 1000, point)


def success_interval_pct(count: int, failed: int) -> tuple[float, float]:
    """The 95% Wilson score interval of the share of ``count`` that succeeded, in percent."""
    if count <= 0:
        return 0.0, 100.0
    p, z2 = (count - failed) / count, _Z * _Z
    center = (p + z2 / (2 * count)) / (1 + z2 / count)
    half = _Z / (1 + z2 / count) * math.sqrt(p * (1 - p) / count + z2 / (4 * count * count))
    return 100 * max(0.0, center - half), 100 * min(1.0, center + half)


__all__ = [
    "CONFIDENCE_PCT",
    "MIN_SAMPLES_BEYOND",
    "interval_ms",
    "resolves",
    "samples_needed",
    "success_interval_pct",
]
