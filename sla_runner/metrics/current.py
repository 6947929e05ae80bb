"""The second being filled: what one endpoint or channel of one scenario completed in it."""

from __future__ import annotations

from hdrh.histogram import HdrHistogram

from sla_runner.metrics.histogram import clear, latency_histogram, values_at_percentiles
from sla_runner.metrics.rows import SecondFigures
from sla_runner.timeunits import US_PER_MS


class OpenSecond:
    """What one endpoint or channel of one scenario completed in the current second: its
    histogram has the whole run's precision (3 digits), so that the closed second, kept
    compressed (:mod:`sla_runner.metrics.seconds`), judges windows exactly."""

    __slots__ = ("hist", "outcomes")

    def __init__(self) -> None:
        self.hist = latency_histogram()
        self.outcomes: dict[str, int] = {}

    def reset(self) -> None:
        clear(self.hist)
        self.outcomes.clear()


def second_figures(hist: HdrHistogram, outcomes: dict[str, int]) -> SecondFigures:
    errors = {k: n for k, n in sorted(outcomes.items()) if k != "ok"}
    out = SecondFigures(count=sum(outcomes.values()), errors=errors)
    if hist.get_total_count():
        p50, p95, p99 = values_at_percentiles(hist, (50, 95, 99))
        out.p50_ms, out.p95_ms, out.p99_ms = p50 / US_PER_MS, p95 / US_PER_MS, p99 / US_PER_MS
    return out
