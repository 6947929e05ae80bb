"""HDR histograms with the project's fixed ranges, and their compressed encoding."""

from __future__ import annotations

import ctypes
import functools
import sys
from bisect import bisect_left
from collections.abc import Sequence
from fractions import Fraction
from itertools import accumulate

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


# hdrh's bucket arithmetic for the latency range, computed once: ``record_value`` spends
# five Python calls finding a value's count; :func:`record_latency` spends none.
_SHAPE = latency_histogram()
_MASK = _SHAPE.sub_bucket_mask
_UNIT = _SHAPE.unit_magnitude
_HALF_MAGNITUDE = _SHAPE.sub_bucket_half_count_magnitude
_HALF = _SHAPE.sub_bucket_half_count
_FIRST_BUCKET = _UNIT + _HALF_MAGNITUDE + 1
del _SHAPE


def record_latency(series: HdrHistogram, second: HdrHistogram, us: int) -> None:
    """``series.record_value(us)`` and ``second.record_value(us)`` for two histograms of
    :func:`latency_histogram`'s range, ``us`` within it (1 to ``LATENCY_HIGHEST_US``): the
    same counts, total, minimum and maximum, the count's index computed once, inline (the
    recorder's hot path records every sample into its series and its second)."""
    bucket = (us | _MASK).bit_length() - _FIRST_BUCKET
    index = ((bucket + 1) << _HALF_MAGNITUDE) + (us >> (bucket + _UNIT)) - _HALF
    # the same four lines for each histogram, unrolled: a loop or a call per histogram
    # costs the hot path more than these lines save
    series.counts[index] += 1
    series.total_count += 1
    if us < series.min_value:  # noqa: PLR1730 (a call to min() costs more)
        series.min_value = us
    if us > series.max_value:  # noqa: PLR1730
        series.max_value = us
    second.counts[index] += 1
    second.total_count += 1
    if us < second.min_value:  # noqa: PLR1730 (a call to min() costs more)
        second.min_value = us
    if us > second.max_value:  # noqa: PLR1730
        second.max_value = us


def nearest_rank(percentile: float, total: int) -> int:
    """The rank (1-based) of the ``percentile``-th of ``total`` sorted samples: the smallest
    rank with at least ``percentile``% of the samples at or below it, ``ceil(p·n/100)``.

    The percentile is taken as written (``99.9`` is 999/10, not the float nearest it), so
    ``p99.9`` of 1,000 samples is the 999th, never the 1,000th by a rounding error.
    """
    numerator, denominator = _as_written(percentile)
    exact = -(-numerator * total // (denominator * 100))  # the ceiling, in integers
    return min(total, max(1, exact))


@functools.lru_cache(maxsize=256)
def _as_written(percentile: float) -> tuple[int, int]:
    """``percentile`` as the fraction its shortest text says (``99.9``: 999/10), once per
    percentile: a timeline second asks for the same three of every series."""
    exact = Fraction(repr(float(percentile)))
    return exact.numerator, exact.denominator


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
    over the counts between the lowest and the highest recorded (a slice and a running sum,
    both in C): a timeline second asks for three of each series it holds."""
    total = histogram.get_total_count()
    if total == 0:
        return [0] * len(percentiles)
    high = _index_of(histogram, int(histogram.get_max_value()))
    low = min(_index_of(histogram, histogram_low(histogram)), high)
    running = list(accumulate(histogram.counts[low : high + 1]))
    out: list[int] = []
    for p in percentiles:
        index = low + min(bisect_left(running, nearest_rank(p, total)), len(running) - 1)
        value = histogram.get_value_from_index(index)
        out.append(int(histogram.get_highest_equivalent_value(value)))
    return out


def histogram_low(histogram: HdrHistogram) -> int:
    """A value at or below the lowest recorded: hdrh's ``min_value`` (0 after some adds;
    never above the highest)."""
    return min(max(int(histogram.get_min_value()), 0), int(histogram.get_max_value()))


def _index_of(histogram: HdrHistogram, value: int) -> int:
    return int(histogram.get_counts_array_index(value))


def clear(histogram: HdrHistogram) -> None:
    """``histogram.reset()`` at C speed (hdrh's own loops over every count in Python)."""
    if histogram.get_total_count():
        counts = histogram.counts
        ctypes.memset(ctypes.addressof(counts), 0, ctypes.sizeof(counts))
        histogram.total_count = 0
        histogram.min_value = sys.maxsize
        histogram.max_value = 0


def compress(histogram: HdrHistogram) -> bytes:
    """The histogram's compressed payload (no base64, no outer header): a closed second's
    histogram kept in memory as a few hundred bytes."""
    blob: bytes = histogram.encoder.payload.compress(_relevant_length(histogram))
    return blob


def expand(blob: bytes) -> HdrHistogram:
    """The histogram :func:`compress` gave ``blob`` for."""
    return HdrHistogram.decode(blob, b64_wrap=False)


def _relevant_length(histogram: HdrHistogram) -> int:
    if not histogram.get_total_count():
        return 0
    return _index_of(histogram, int(histogram.get_max_value())) + 1


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
