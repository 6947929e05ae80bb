"""HDR histograms with the project's fixed ranges, and their compressed encoding."""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

from hdrh.histogram import HdrHistogram

SIGNIFICANT_DIGITS = 3
LATENCY_LOWEST_US = 1
LATENCY_HIGHEST_US = 60_000_000  # 60 s
GAUGE_HIGHEST = 2**40  # rss in KiB (1 PiB), CPU in hundredths of a percent


def latency_histogram() -> HdrHistogram:
    """Microseconds, 1 µs to 60 s, 3 significant digits."""
    return HdrHistogram(LATENCY_LOWEST_US, LATENCY_HIGHEST_US, SIGNIFICANT_DIGITS)


def gauge_histogram() -> HdrHistogram:
    return HdrHistogram(1, GAUGE_HIGHEST, SIGNIFICANT_DIGITS)


def nearest_rank(percentile: float, total: int) -> int:
    """The rank (1-based) of the ``percentile``-th of ``total`` sorted samples: the smallest
    rank with at least ``percentile``% of the samples at or below it, ``ceil(p·n/100)``.

    The percentile is taken as written (``99.9`` is 999/10, not the float nearest it), so
    ``p99.9`` of 1,000 samples is the 999th, never the 1,000th by a rounding error.
    """
    exact = Fraction(repr(float(percentile))) * total / 100
    return min(total, max(1, math.ceil(exact)))


def value_at_percentile(histogram: HdrHistogram, percentile: float) -> int:
    """The nearest-rank percentile of a histogram, as the highest value equivalent to it.

    hdrh's own ``get_value_at_percentile`` rounds the rank to the nearest integer instead
    of up: its p95 of 12 samples is the 11th, though only 91.7% of the samples lie at or
    below it, so one slow request in 12 would pass ``p95 < limit``. HdrHistogram's
    reference implementations round up, as this does.
    """
    return values_at_percentiles(histogram, (percentile,))[0]


def values_at_percentiles(histogram: HdrHistogram, percentiles: Sequence[float]) -> list[int]:
    """:func:`value_at_percentile` of each of ``percentiles`` (in any order), in one pass
    over the counts: a timeline second asks for three of each series it holds."""
    total = histogram.get_total_count()
    if total == 0:
        return [0] * len(percentiles)
    ranks = sorted((nearest_rank(p, total), i) for i, p in enumerate(percentiles))
    out = [int(histogram.get_max_value())] * len(percentiles)
    seen, next_rank = 0, 0
    for index in range(histogram.counts_len):
        seen += histogram.get_count_at_index(index)
        while next_rank < len(ranks) and seen >= ranks[next_rank][0]:
            value = histogram.get_value_from_index(index)
            out[ranks[next_rank][1]] = int(histogram.get_highest_equivalent_value(value))
            next_rank += 1
        if next_rank == len(ranks):
            break
    return out


def encode(histogram: HdrHistogram) -> str:
    """HdrHistogram's compressed, base64 encoding (the "HISTF..." text)."""
    return histogram.encode().decode("ascii")  # type: ignore[no-any-return]


def decode(text: str) -> HdrHistogram:
    return HdrHistogram.decode(text.encode("ascii"))


def merged(histograms: list[HdrHistogram], *, like: HdrHistogram | None = None) -> HdrHistogram:
    """A new histogram holding every value of ``histograms``; exact for same-range inputs."""
    out = latency_histogram() if like is None else _empty_like(like)
    for h in histograms:
        add_into(out, h)
    return out


def add_into(target: HdrHistogram, source: HdrHistogram) -> None:
    """``target += source``. Skips an empty source: hdrh's ``add`` of an empty histogram
    resets the target's minimum to 0."""
    if source.get_total_count():
        target.add(source)


def _empty_like(h: HdrHistogram) -> HdrHistogram:
    return HdrHistogram(h.lowest_trackable_value, h.highest_trackable_value, h.significant_figures)
