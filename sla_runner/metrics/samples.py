"""Statistics of gauges as sampled, in time order: ``slope(...)`` of any gauge, and every
statistic of a ``metric.<alias>`` series (whose values may be fractions or negative, which
an HDR histogram cannot hold). Pure functions, no I/O.

A sample belongs to the window it was taken in (a stage, a scenario's stages, the run); a
window that ends with the run keeps the samples taken in the drain after it, as the
gauges' histograms do.
"""

from __future__ import annotations

from sla_runner.metrics.histogram import nearest_rank
from sla_runner.metrics.recording import Recording
from sla_runner.timeunits import NS_PER_S

MIN_SLOPE_SAMPLES = 3


def samples_in(
    recording: Recording, name: str, stage: int | None, scenario: str | None = None
) -> list[tuple[int, float]]:
    """The samples of gauge ``name`` in one stage, one scenario's window or the whole run,
    in time order; a window that ends with the run keeps the drain after it."""
    taken = sorted(recording.samples.get(name, []))
    start, end = recording.span_ns(stage, scenario)
    open_end = end >= recording.span_ns(None)[1]
    return [(t, v) for t, v in taken if t >= start and (open_end or t < end)]


def slope_per_s(taken: list[tuple[int, float]]) -> float:
    """The least-squares slope of the samples, per second."""
    return slope_and_r([ns / NS_PER_S for ns, _ in taken], [v for _, v in taken])[0]


def sample_stat(taken: list[tuple[int, float]], stat: str, percentile: float | None) -> float:
    """min, max, mean or the nearest-rank percentile of the samples' values (not empty)."""
    values = sorted(v for _, v in taken)
    if stat == "min":
        return values[0]
    if stat == "max":
        return values[-1]
    if stat == "mean":
        return sum(values) / len(values)
    assert percentile is not None, stat
    return values[nearest_rank(percentile, len(values)) - 1]


def slope_and_r(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares slope of ys over xs and Pearson's r (0 when either does not vary)."""
    n = len(xs)
    if n < 2:
        return 0.0, 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    if sxx == 0 or syy == 0:
        return 0.0, 0.0
    return sxy / sxx, sxy / (sxx * syy) ** 0.5
