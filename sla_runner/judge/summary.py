"""The human-readable metrics of a verdict: per metric, endpoint, channel and gauge.

Figures are rounded to what they mean (:data:`sla_runner.numbers.DIGITS`): latencies in ms
to the microsecond, rates and percentages to a thousandth, sizes to the byte."""

from __future__ import annotations

from collections import Counter

from hdrh.histogram import HdrHistogram

from sla_runner import numbers
from sla_runner.metrics.histogram import encode, nearest_rank
from sla_runner.metrics.recording import GAUGE_SCALE, GAUGES, Recording
from sla_runner.metrics.stats import (
    SUMMARY_PERCENTILES,
    histogram_stat,
    merged_latency,
    outcomes_of,
    users_stat,
)
from sla_runner.spec.thresholds import LATENCY_METRICS
from sla_runner.timeunits import NS_PER_S
from sla_runner.verdict import MetricSummary, Percentiles, TimelineRow

GAUGE_UNITS = {"process.rss": "B", "process.cpu": "%"}


def percentiles(hist: HdrHistogram, scale: float, unit: str) -> Percentiles | None:
    """min, mean, p50 … p99.9, max of a histogram, raw values times ``scale``, in ``unit``."""
    if hist.get_total_count() == 0:
        return None
    figures = {name: histogram_stat(hist, f"p{p:g}", scale) for name, p in SUMMARY_PERCENTILES}
    figures.update({s: histogram_stat(hist, s, scale) for s in ("min", "mean", "max")})
    return Percentiles.model_validate({k: numbers.stored(v, unit) for k, v in figures.items()})


def _request_summary(recording: Recording, metric: str, scope: str | None) -> MetricSummary:
    series = recording.select(metric, scope, None)
    count, _ok = outcomes_of(series)
    errors: Counter[str] = Counter()
    for s in series:
        errors.update({k: v for k, v in s.outcomes.items() if k != "ok"})
    hist = merged_latency(series)
    window = recording.window_ns(None)
    rate = numbers.stored(count * NS_PER_S / window, "/s") if window > 0 else None
    return MetricSummary(
        count=count,
        errors=dict(sorted(errors.items())),
        rate=rate,
        latency_ms=percentiles(hist, 1 / 1000, "ms"),
        hdr=encode(hist),
    )


def metrics_summary(recording: Recording) -> dict[str, MetricSummary]:
    """``http``, ``http.<endpoint>``…, ``ws``…, ``ws_connect``…, gauges and ``users``."""
    out: dict[str, MetricSummary] = {}
    for metric in LATENCY_METRICS:
        scopes = sorted({sc for (m, sc, _st) in recording.series if m == metric})
        if not scopes:
            continue
        out[metric] = _request_summary(recording, metric, None)
        for scope in scopes:
            out[f"{metric}.{scope}"] = _request_summary(recording, metric, scope)
    for gauge in GAUGES:
        hist = recording.gauge(gauge, None)
        if hist.get_total_count():
            out[gauge] = MetricSummary(
                count=hist.get_total_count(),
                values=percentiles(hist, GAUGE_SCALE[gauge], GAUGE_UNITS[gauge]),
                unit=GAUGE_UNITS[gauge],
                hdr=encode(hist),
            )
    rows = recording.load_rows()
    if rows:
        held = sorted(r.users for r in rows)
        n = len(held)

        figures = {name: float(held[nearest_rank(p, n) - 1]) for name, p in SUMMARY_PERCENTILES}
        figures.update({s: numbers.stored(users_stat(rows, s), "") for s in ("min", "mean", "max")})
        out["users"] = MetricSummary(
            count=n, values=Percentiles.model_validate(figures), unit="users"
        )
    return out


def timeline_models(recording: Recording) -> list[TimelineRow]:
    return [TimelineRow.model_validate(row.to_dict()) for row in recording.timeline]
