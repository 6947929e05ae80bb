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
from sla_runner.spec.thresholds import FLOW_METRIC, LATENCY_METRICS
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


def _request_summary(
    recording: Recording, metric: str, scope: str | None, scenario: str | None = None
) -> MetricSummary:
    series = recording.select(metric, scope, None, scenario)
    count, _ok = outcomes_of(series)
    errors: Counter[str] = Counter()
    for s in series:
        errors.update({k: v for k, v in s.outcomes.items() if k != "ok"})
    hist = merged_latency(series)
    window = recording.window_ns(None, scenario)
    rate = numbers.stored(count * NS_PER_S / window, "/s") if window > 0 else None
    return MetricSummary(
        count=count,
        errors=dict(sorted(errors.items())),
        rate=rate,
        latency_ms=percentiles(hist, 1 / 1000, "ms"),
        hdr=encode(hist),
    )


def metrics_summary(recording: Recording) -> dict[str, MetricSummary]:
    """``http``, ``http.<endpoint>``…, ``ws``…, ``ws_connect``…, ``flow.<scenario>``…,
    gauges and ``users``."""
    out = _traffic(recording, None)
    for scope in sorted({sc for (m, sc, _st) in recording.series if m == FLOW_METRIC}):
        out[f"{FLOW_METRIC}.{scope}"] = _request_summary(recording, FLOW_METRIC, scope)
    for gauge in GAUGES:
        hist = recording.gauge(gauge, None)
        if hist.get_total_count():
            out[gauge] = MetricSummary(
                count=hist.get_total_count(),
                values=percentiles(hist, GAUGE_SCALE[gauge], GAUGE_UNITS[gauge]),
                unit=GAUGE_UNITS[gauge],
                hdr=encode(hist),
            )
    users = _users(recording, None)
    if users is not None:
        out["users"] = users
    return out


def scenario_summaries(recording: Recording) -> dict[str, dict[str, MetricSummary]]:
    """Each scenario's own figures (its requests, round trips, connects and users, over its
    window), for a run of several scenarios; empty for a run of one."""
    if len(recording.scenarios) < 2:
        return {}
    out: dict[str, dict[str, MetricSummary]] = {}
    for scenario in recording.scenarios:
        figures = _traffic(recording, scenario)
        users = _users(recording, scenario)
        if users is not None:
            figures["users"] = users
        out[scenario] = figures
    return out


def _traffic(recording: Recording, scenario: str | None) -> dict[str, MetricSummary]:
    out: dict[str, MetricSummary] = {}
    own = recording.scenario_stages(scenario) if scenario is not None else None
    for metric in LATENCY_METRICS:
        scopes = sorted(
            {sc for (m, sc, st) in recording.series if m == metric and (own is None or st in own)}
        )
        if not scopes:
            continue
        out[metric] = _request_summary(recording, metric, None, scenario)
        for scope in scopes:
            out[f"{metric}.{scope}"] = _request_summary(recording, metric, scope, scenario)
    return out


def _users(recording: Recording, scenario: str | None) -> MetricSummary | None:
    rows = recording.load_rows(None, scenario)
    if not rows:
        return None
    held = sorted(r.users_of(scenario) for r in rows)
    n = len(held)
    figures = {name: float(held[nearest_rank(p, n) - 1]) for name, p in SUMMARY_PERCENTILES}
    figures.update(
        {s: numbers.stored(users_stat(rows, s, scenario), "") for s in ("min", "mean", "max")}
    )
    return MetricSummary(count=n, values=Percentiles.model_validate(figures), unit="users")


def timeline_models(recording: Recording) -> list[TimelineRow]:
    return [TimelineRow.model_validate(row.to_dict()) for row in recording.timeline]
