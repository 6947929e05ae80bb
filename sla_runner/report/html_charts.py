"""The HTML report's charts: over time on one shared axis (the load, throughput, errors by
kind, latency per metric, endpoint and channel with the thresholds' limits and breaching
seconds, the service's memory and CPU), and the latency distributions."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sla_runner import numbers
from sla_runner.report.svg import Esc, Limit, Line, percentile_chart, time_chart
from sla_runner.report.timeseries import (
    Timeline,
    breaches,
    curves_for,
    latency_breaches,
    limit_of,
    selector,
)
from sla_runner.verdict import ThresholdResult, TimelineRow, Verdict

PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
PERCENTILE_COLORS = {"p50": "#74a9cf", "p95": "#0570b0", "p99": "#023858"}
MIB = 1024 * 1024


def _ms(v: float) -> str:
    return f"{numbers.number(v)} ms"


def _per_s(v: float) -> str:
    return f"{numbers.number(v)}/s"


def _mb(v: float) -> str:
    return f"{numbers.number(round(v, 1))} MB"


def _pct(v: float) -> str:
    return f"{numbers.number(v)}%"


def _plain(v: float) -> str:
    return numbers.number(v)


def _lines(named: Mapping[str, Sequence[float | None]]) -> list[Line]:
    return [
        Line(label, PALETTE[i % len(PALETTE)], values)
        for i, (label, values) in enumerate(named.items())
    ]


# A threshold drawn on a chart: its result, the scale of its limit, its figure per second,
# and whether that figure is its own scenario's (not the run's).
_Judged = tuple[ThresholdResult, float, Callable[[TimelineRow], float | None], bool]


def over_time(verdict: Verdict, esc: Esc) -> list[str]:
    """Every chart over time, in the order a reader takes in a run: the load, what came
    out of it, then where the time went."""
    if not verdict.timeline:
        return []
    tl = Timeline.of(verdict)
    charts: list[str] = []

    def chart(
        chart_id: str,
        title: str,
        lines: list[Line],
        fmt: Callable[[float], str],
        thresholds: list[_Judged] | None = None,
    ) -> None:
        limits: list[Limit] = []
        bands = []
        for t, scale, figure, own in thresholds or []:
            limits.append(limit_of(verdict, t, scale))
            if _one_second_decides(t):
                bands += breaches(verdict, t, figure, own=own)
        charts.append(
            time_chart(
                chart_id=chart_id,
                title=title,
                axis=tl.axis,
                lines=lines,
                fmt=fmt,
                esc=esc,
                limits=limits,
                bands=bands,
            )
        )

    def judging(metric: str, scale: float = 1.0) -> list[_Judged]:
        """The thresholds drawn on a chart of ``metric``, each with its figure per second
        (a scenario's own users where the rows have them)."""
        figure: Callable[[TimelineRow], float | None] = _ROW_FIGURES.get(metric, lambda r: None)
        return [
            (t, scale, _scenario_users(t.scenario), True)
            if metric == "users" and several and t.scenario
            else (t, scale, figure, False)
            for t in verdict.thresholds
            if t.metric == metric and not t.scope
        ]

    models = verdict.scenario_models  # none in verdicts written before they were recorded
    open_model = (
        "open" in models.values()
        if models
        else any(r.arrivals or r.dropped for r in verdict.timeline)
    )
    # A run of several scenarios: a line for each one's own users (or requests in flight,
    # which its label says where the verdict records the scenario's model), so that a
    # scenario's users threshold is read against its own line; the run's total only for a
    # threshold that judges it.
    several = list(dict.fromkeys(name for r in verdict.timeline for name in r.scenario_users))
    load: dict[str, Sequence[float | None]] = {
        _held_line(name, models): tl.highest(_scenario_users(name)) for name in several
    }
    if not several or any(t.metric == "users" and not t.scenario for t in verdict.thresholds):
        total = "all scenarios" if several else "in flight" if open_model else "users held"
        load[total] = tl.highest(lambda r: float(r.users))
    if open_model:
        load["arrivals started/s"] = tl.per_second(lambda r: float(r.arrivals))
        load["dropped/s"] = tl.per_second(lambda r: float(r.dropped))
    title = (
        "load: each scenario's users (closed model) or requests in flight (open model)"
        if several
        else "load: users (closed model) or arrivals (open model)"
    )
    chart("load", title, _lines(load), _plain, judging("users"))

    metrics = [k for k in tl.keys if "." not in k]
    throughput = {k: tl.series_count(k) for k in metrics} or {
        "http": tl.per_second(lambda r: float(r.requests))
    }
    charts.append(
        time_chart(
            chart_id="throughput",
            title="throughput: completed per second",
            axis=tl.axis,
            lines=_lines(throughput),
            fmt=_per_s,
            esc=esc,
            limits=[
                limit_of(verdict, t)
                for t in verdict.thresholds
                if t.stat == "rate" and selector(t) in throughput
            ],
        )
    )
    errors = {
        f"{k} {kind}": values for k in metrics for kind, values in tl.series_errors(k).items()
    }
    if not errors:
        errors = {"errors": tl.per_second(lambda r: float(r.errors))}
    chart("errors", "errors by kind, per second", _lines(errors), _per_s)

    for i, key in enumerate(tl.keys):
        lines = [
            Line(
                stat,
                PERCENTILE_COLORS[stat],
                tl.series_stat(key, stat),
                1.8 if stat == "p99" else 1.4,
            )
            for stat in ("p50", "p95", "p99")
        ]
        judged = [t for t in verdict.thresholds if selector(t) == key and t.unit == "ms"]
        charts.append(
            time_chart(
                chart_id=f"latency-{i}",
                title=f"latency: {key}",
                axis=tl.axis,
                lines=lines,
                fmt=_ms,
                esc=esc,
                limits=[limit_of(verdict, t) for t in judged],
                bands=[band for t in judged for band in latency_breaches(verdict, t)],
            )
        )

    if any(r.rss_bytes is not None for r in verdict.timeline):
        rss = tl.highest(lambda r: None if r.rss_bytes is None else r.rss_bytes / MIB)
        chart(
            "memory",
            "service memory (RSS)",
            _lines({"rss": rss}),
            _mb,
            judging("process.rss", 1 / MIB),
        )
    if any(r.cpu_pct is not None for r in verdict.timeline):
        cpu = tl.highest(lambda r: r.cpu_pct)
        chart(
            "cpu",
            "service CPU (100% = one core)",
            _lines({"cpu": cpu}),
            _pct,
            judging("process.cpu"),
        )
    return charts


def _one_second_decides(t: ThresholdResult) -> bool:
    """Whether one second beyond the limit breaks the threshold: a maximum held below a
    limit, a minimum above one (a run's maximum above a limit is not broken by a second
    below it)."""
    return (t.stat == "max" and t.op in ("<", "<=")) or (t.stat == "min" and t.op in (">", ">="))


_ROW_FIGURES: dict[str, Callable[[TimelineRow], float | None]] = {
    "process.rss": lambda r: None if r.rss_bytes is None else float(r.rss_bytes),
    "process.cpu": lambda r: r.cpu_pct,
    "users": lambda r: float(r.users),
}


def _held_line(name: str, models: Mapping[str, str]) -> str:
    """The load chart's line of a scenario: ``shoppers (users)``, ``api (in flight)``; its
    name alone when its model is not known."""
    model = models.get(name)
    if model is None:
        return name
    return f"{name} ({'in flight' if model == 'open' else 'users'})"


def _scenario_users(name: str) -> Callable[[TimelineRow], float | None]:
    """A second's users (open model: requests in flight) of one scenario."""

    def figure(row: TimelineRow) -> float | None:
        held = row.scenario_users.get(name)
        return None if held is None else float(held)

    return figure


def distributions(verdict: Verdict, esc: Esc) -> list[str]:
    """One percentile curve chart per latency metric (``http``, ``ws``…), a curve for the
    metric and for each of its endpoints or channels."""
    metrics = [k for k, m in verdict.metrics.items() if "." not in k and m.latency_ms is not None]
    out = []
    for i, metric in enumerate(metrics):
        curves, marks = curves_for(verdict, metric, PALETTE)
        if curves:
            out.append(
                percentile_chart(
                    chart_id=f"distribution-{i}",
                    title=f"latency by percentile: {metric}",
                    curves=curves,
                    marks=marks,
                    fmt=_ms,
                    esc=esc,
                )
            )
    return out
