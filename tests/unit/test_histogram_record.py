"""The recorder's inline HDR record against hdrh's own ``record_value``: the same counts,
total, minimum and maximum for every value of the latency range."""

from __future__ import annotations

import math
import random
from fractions import Fraction

from sla_runner.metrics.histogram import (
    LATENCY_HIGHEST_US,
    encode,
    latency_histogram,
    nearest_rank,
    record_latency,
)


def _values() -> list[int]:
    rng = random.Random(11)
    edges = [1, 2, 1023, 1024, 2047, 2048, 2049, 4095, 4096, 65_535, 65_536, LATENCY_HIGHEST_US]
    spread = [int(10 ** rng.uniform(0, 7.77)) for _ in range(20_000)]
    return [*edges, *(v for v in spread if 1 <= v <= LATENCY_HIGHEST_US)]


def test_record_latency_counts_as_hdrh_record_value() -> None:
    values = _values()
    expected, series, second = latency_histogram(), latency_histogram(), latency_histogram()
    for v in values:
        expected.record_value(v)
        record_latency(series, second, v)
    for h in (series, second):
        assert list(h.counts) == list(expected.counts)
        assert (h.get_total_count(), h.get_min_value(), h.get_max_value()) == (
            expected.get_total_count(),
            expected.get_min_value(),
            expected.get_max_value(),
        )
        assert encode(h) == encode(expected)


def test_record_latency_each_value_lands_where_hdrh_puts_it() -> None:
    for v in _values()[:2_000]:
        mine, other, theirs = latency_histogram(), latency_histogram(), latency_histogram()
        record_latency(mine, other, v)
        theirs.record_value(v)
        index = theirs.get_counts_array_index(v)
        assert theirs.counts[index] == 1
        assert mine.counts[index] == other.counts[index] == 1, v
        assert mine.get_value_at_percentile(100) == theirs.get_value_at_percentile(100)


def test_nearest_rank_is_the_ceiling_of_the_percentile_as_written() -> None:
    """The rank in integers equals ceil(p·n/100) with p read as its text says (99.9 is
    999/10), for the percentiles thresholds use and awkward ones, over many totals."""
    percentiles = [0.0, 0.1, 1, 10, 33.3, 50, 66.7, 90, 95, 99, 99.9, 99.99, 99.999, 100, 12.345]
    for p in percentiles:
        written = Fraction(repr(float(p)))
        for total in [*range(1, 2_100), 10**6, 10**9 + 7]:
            assert nearest_rank(p, total) == min(total, max(1, math.ceil(written * total / 100)))
    assert nearest_rank(99.9, 1_000) == 999  # not 1,000 by a float's rounding
