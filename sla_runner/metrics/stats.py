"""Observed values of thresholds on a Recording: pure functions, no I/O.

Units follow the threshold grammar: milliseconds for latencies, bytes for process.rss,
percent for process.cpu and the success/error rates, per second for rates, plain numbers
for counts and users.

Percentiles are nearest-rank, rounded up (:func:`~sla_runner.metrics.histogram.nearest_rank`).
A histogram's figures are reported as the highest value equivalent at 3 significant digits
(the minimum as the lowest), so a reported latency is at most 0.1% above the recorded one.
Values below 2,048 µs (and below 2,048 KiB or 20.48% for gauges) are exact.

Every comparison is made on correctly rounded floats of exact integer ratios
(``100 * ok / count``, ``count * 1e9 / window_ns``), so a value that equals its limit
exactly compares as equal.
"""

from __future__ import annotations

from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

from sla_runner.metrics.histogram import gauge_histogram, merged, value_at_percentile
from sla_runner.metrics.recording import GAUGE_SCALE, Recording, Series, TimelineRow
from sla_runner.spec.thresholds import FLOW_METRIC, LATENCY_METRICS, Threshold
from sla_runner.timeunits import NS_PER_S, US_PER_MS

# Percentiles shown in every metric summary (the JSON's latency_ms and the JUnit tables).
SUMMARY_PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50", 50.0),
    ("p90", 90.0),
    ("p95", 95.0),
    ("p99", 99.0),
    ("p99.9", 99.9),
)


@dataclass(frozen=True)
class Observation:
    """What a threshold's statistic came to: ``value`` is None when there was nothing to judge."""

    value: float | None
    samples: int
    reason: str | None = None  # why there is no value


def merged_latency(series: list[Series]) -> HdrHistogram:
    return merged([s.latency_us for s in series])


def histogram_min(hist: HdrHistogram) -> int:
    """The lowest recorded value, from the counts (``min_value`` is lost by some adds)."""
    for item in hist.get_recorded_iterator():
        return int(hist.get_lowest_equivalent_value(item.value_iterated_to))
    return 0


def outcomes_of(series: list[Series]) -> tuple[int, int]:
    """(count, ok) over the series."""
    count = sum(s.count for s in series)
    ok = sum(s.outcomes.get("ok", 0) for s in series)
    return count, ok


def histogram_stat(hist: HdrHistogram, stat: str, scale: float) -> float:
    """One statistic of a histogram, its raw values multiplied by ``scale``."""
    if stat == "min":
        raw: float = histogram_min(hist)
    elif stat == "max":
        raw = hist.get_max_value()
    elif stat == "mean":
        raw = hist.get_mean_value()
    else:
        raw = value_at_percentile(hist, float(stat[1:]))
    return _scaled(raw, scale)


def _scaled(raw: float, scale: float) -> float:
    # Divide by an integer where we can, so that 200,000 µs is exactly 200.0 ms.
    if scale < 1 and round(1 / scale) * scale == 1:
        return raw / round(1 / scale)
    return raw * scale


def users_stat(rows: list[TimelineRow], stat: str, scenario: str | None = None) -> float:
    held = [r.users_of(scenario) for r in rows]
    if stat == "min":
        return float(min(held))
    if stat == "mean":
        return sum(held) / len(held)
    return float(max(held))


def observe(
    recording: Recording, threshold: Threshold, stage: int | None, scenario: str | None = None
) -> Observation:
    """The observed value of ``threshold``'s statistic over one stage or the whole run, of
    one scenario's traffic (and users, over its window) or of every scenario's."""
    metric, stat = threshold.metric, threshold.stat
    if metric in LATENCY_METRICS or metric == FLOW_METRIC:
        return _observe_requests(recording, threshold, stage, scenario)
    if metric == "users":
        rows = recording.load_rows(stage, scenario)
        if not rows and stage is not None and recording.timeline:
            name = recording.stage_names[stage]
            return Observation(
                None,
                0,
                f"no timeline second starts in stage {name!r} "
                f"({recording.stage_durations_ns[stage] / NS_PER_S:g}s): users are sampled "
                "per second of the run; judge them over a stage of a second or more",
            )
        if not rows:
            return Observation(None, 0, "no timeline rows: no second of the run was recorded")
        return Observation(users_stat(rows, stat, scenario), len(rows))
    hist = recording.gauge(metric, stage) if metric in GAUGE_SCALE else gauge_histogram()
    n = hist.get_total_count()
    if n == 0:
        return Observation(None, 0, f"no samples of {metric}: the process was not sampled")
    return Observation(histogram_stat(hist, stat, GAUGE_SCALE[metric]), n)


def _observe_requests(
    recording: Recording, threshold: Threshold, stage: int | None, scenario: str | None
) -> Observation:
    series = recording.select(threshold.metric, threshold.scope, stage, scenario)
    count, ok = outcomes_of(series)
    what = threshold.selector
    if count == 0:
        never = "were made" if threshold.metric in ("http", FLOW_METRIC) else "took place"
        return Observation(None, 0, f"no samples: no {_noun(what)} {never}")
    stat = threshold.stat
    if stat == "count":
        return Observation(float(count), count)
    if stat == "rate":
        window = recording.window_ns(stage, scenario)
        if window <= 0:
            return Observation(None, count, "the judging window has no duration")
        return Observation(count * NS_PER_S / window, count)
    if stat == "success_rate":
        return Observation(100 * ok / count, count)
    if stat == "error_rate":
        return Observation(100 * (count - ok) / count, count)
    hist = merged_latency(series)
    n = hist.get_total_count()
    if n == 0:
        got = "ran through" if threshold.metric == FLOW_METRIC else "got a response"
        none = f"none of the {count:,} {_noun(what)} {got}"
        return Observation(None, 0, f"no latency samples: {none}")
    return Observation(histogram_stat(hist, stat, 1 / US_PER_MS), n)


def _noun(selector: str) -> str:
    if selector.startswith(f"{FLOW_METRIC}."):
        return f"passes through {selector}"
    if selector.startswith("ws_connect"):
        return f"{selector} connects"
    if selector.startswith("ws"):
        return f"{selector} round trips"
    return f"{selector} requests"


def count_above(hist: HdrHistogram, limit_raw: float) -> int:
    """How many recorded values lie above ``limit_raw`` (in the histogram's own unit)."""
    total = 0
    for item in hist.get_recorded_iterator():
        if item.value_iterated_to > limit_raw:
            total += item.count_at_value_iterated_to
    return total


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
