"""What the HTML report's charts draw, read from the verdict alone: the timeline per
second (per metric, endpoint and channel where the verdict has it), each threshold's limit
and the seconds that breached it, and the latency distribution from the HDR histograms.

Whatever the verdict holds is drawn: a chart per key of the timeline's series (``http``,
``http.<endpoint>``, ``ws.<channel>``, and keys later verdicts add), a line per error
kind. Older verdicts, whose rows lack ``series``, draw the HTTP figures every row has.

Long runs are drawn in buckets of several seconds (at most :data:`MAX_BUCKETS`): counts
are averaged per second over the bucket, percentiles and gauges take the bucket's highest.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sla_runner.metrics.histogram import decode
from sla_runner.report.junit import case_name
from sla_runner.report.svg import Band, Curve, Limit, Mark, TimeAxis
from sla_runner.timeunits import NS_PER_S
from sla_runner.verdict import SecondFigures, ThresholdResult, TimelineRow, Verdict

MAX_BUCKETS = 600
PERCENTILE_STATS = ("p50", "p95", "p99")  # what the timeline keeps per second
OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def selector(t: ThresholdResult) -> str:
    """The key of the verdict's metrics a threshold judges (``http.list-items``)."""
    return f"{t.metric}.{t.scope}" if t.scope else t.metric


def legacy(verdict: Verdict) -> bool:
    """A verdict written before the timeline kept series: only its HTTP figures per second."""
    return not any(row.series for row in verdict.timeline)


def series_of(row: TimelineRow, old: bool) -> dict[str, SecondFigures]:
    """A row's series; for an ``old`` verdict (:func:`legacy`), its HTTP figures as the
    ``http`` series."""
    if not old:
        return row.series
    if not row.requests:
        return {}
    return {
        "http": SecondFigures(
            count=row.requests, p50_ms=row.p50_ms, p95_ms=row.p95_ms, p99_ms=row.p99_ms
        )
    }


@dataclass(frozen=True)
class Timeline:
    """The verdict's seconds in buckets on one axis."""

    axis: TimeAxis
    rows: Sequence[Sequence[TimelineRow]]  # the rows of each bucket
    series: Sequence[Sequence[dict[str, SecondFigures]]]  # each row's series, as rows

    @classmethod
    def of(cls, verdict: Verdict) -> Timeline:
        rows = verdict.timeline
        step = max(1, math.ceil(len(rows) / MAX_BUCKETS))
        buckets = [rows[i : i + step] for i in range(0, len(rows), step)]
        spans = stage_spans(verdict)
        stages: list[tuple[float, str]] = []
        if spans is not None:
            stages = [(start, name) for start, _, name in spans]
        seen: set[int] = set()
        for row in rows if spans is None else ():
            if row.stage not in seen:
                seen.add(row.stage)
                name = (
                    verdict.stages[row.stage] if row.stage < len(verdict.stages) else str(row.stage)
                )
                stages.append((float(row.second), name))
        old = legacy(verdict)
        series = [[series_of(r, old) for r in bucket] for bucket in buckets]
        return cls(TimeAxis(len(buckets), step, tuple(stages)), buckets, series)

    @property
    def keys(self) -> list[str]:
        """Every series key, in order of first appearance, metrics before their scopes."""
        found: dict[str, None] = {}
        for bucket in self.series:
            for row in bucket:
                found.update(dict.fromkeys(row))
        return sorted(found, key=lambda k: (k.split(".", 1)[0], "." in k, k))

    def per_second(self, value: Callable[[TimelineRow], float]) -> list[float]:
        """A count per second, averaged over each bucket."""
        return [sum(value(r) for r in bucket) / len(bucket) for bucket in self.rows]

    def highest(self, value: Callable[[TimelineRow], float | None]) -> list[float | None]:
        out: list[float | None] = []
        for bucket in self.rows:
            seen = [v for r in bucket if (v := value(r)) is not None]
            out.append(max(seen) if seen else None)
        return out

    def series_count(self, key: str) -> list[float]:
        return [
            sum(s[key].count for s in bucket if key in s) / len(bucket) for bucket in self.series
        ]

    def series_errors(self, key: str) -> dict[str, list[float]]:
        kinds = sorted(
            {k for bucket in self.series for s in bucket if key in s for k in s[key].errors}
        )
        return {
            kind: [
                sum(s[key].errors.get(kind, 0) for s in bucket if key in s) / len(bucket)
                for bucket in self.series
            ]
            for kind in kinds
        }

    def series_stat(self, key: str, stat: str) -> list[float | None]:
        out: list[float | None] = []
        for bucket in self.series:
            seen = [
                v for s in bucket if key in s and (v := getattr(s[key], f"{stat}_ms")) is not None
            ]
            out.append(max(seen) if seen else None)
        return out


def stage_spans(verdict: Verdict) -> list[tuple[float, float, str]] | None:
    """Each stage's start and end in seconds from the run's start, and its name (with its
    scenario's in a run of several), as the recording planned them; None for a verdict
    without its recording. A run of several scenarios has stages side by side."""
    recording = verdict.recording or {}
    durations = [int(d) for d in recording.get("stage_durations_ns", [])]
    if not durations or len(durations) != len(verdict.stages):
        return None
    starts = [int(s) for s in recording.get("stage_starts_ns", [])]
    if len(starts) != len(durations):
        starts = [sum(durations[:i]) for i in range(len(durations))]
    scenarios = [str(s) for s in recording.get("stage_scenarios", [])]
    several = len(set(scenarios)) > 1 and len(scenarios) == len(durations)
    return [
        (
            start / NS_PER_S,
            (start + duration) / NS_PER_S,
            f"{scenarios[i]}: {verdict.stages[i]}" if several else verdict.stages[i],
        )
        for i, (start, duration) in enumerate(zip(starts, durations, strict=True))
    ]


def stage_window(verdict: Verdict, t: ThresholdResult) -> tuple[float | None, float | None]:
    """The seconds a threshold judges: its ``during`` stage's, or the whole run (None, None)."""
    if t.during is None or t.during not in verdict.stages:
        return None, None
    index = verdict.stages.index(t.during)
    spans = stage_spans(verdict)
    if spans is not None:
        return spans[index][0], spans[index][1]
    seconds = [row.second for row in verdict.timeline if row.stage == index]
    if not seconds:
        return None, None
    return float(min(seconds)), float(max(seconds) + 1)


def limit_of(verdict: Verdict, t: ThresholdResult, scale: float = 1.0) -> Limit:
    start, end = stage_window(verdict, t)
    return Limit(case_name(t), t.limit * scale, start, end)


def breaches(
    verdict: Verdict,
    t: ThresholdResult,
    figure: Callable[[TimelineRow], float | None],
    *,
    own: bool = False,
) -> list[Band]:
    """The seconds whose own figure broke ``t``'s limit, merged into bands. None for a
    threshold of one scenario, unless ``figure`` reads that scenario's own seconds (``own``):
    the rows' figures are the whole run's. A threshold over windows: the windows that missed
    (for ``for``: the stretches at least that long), as it judged them."""
    if t.window is not None or t.for_ is not None:
        what = "window missed" if t.window is not None else f"missed for {t.for_} or more"
        return [
            Band(w.start_s, w.end_s, f"{case_name(t)}: {what} from {w.start_s:g}s to {w.end_s:g}s")
            for w in t.windows
            if w.passed is False
        ]
    if t.scenario and not own:
        return []
    start, end = stage_window(verdict, t)
    holds = OPS[t.op]
    bad: list[int] = []
    for row in verdict.timeline:
        if start is not None and end is not None and not start <= row.second < end:
            continue
        value = figure(row)
        if value is not None and not holds(value, t.limit):
            bad.append(row.second)
    bands: list[Band] = []
    for second in bad:
        if bands and bands[-1].end_s == second:
            last = bands[-1]
            bands[-1] = Band(last.start_s, second + 1, last.label)
        else:
            bands.append(Band(second, second + 1, f"{t.expr}: breached"))
    return [
        Band(b.start_s, b.end_s, f"{b.label} from {b.start_s:g}s to {b.end_s:g}s") for b in bands
    ]


def latency_breaches(verdict: Verdict, t: ThresholdResult) -> list[Band]:
    """For a p50/p95/p99 threshold: the seconds whose own percentile broke the limit."""
    if t.stat not in PERCENTILE_STATS:
        return []
    key, old = selector(t), legacy(verdict)

    def figure(row: TimelineRow) -> float | None:
        found = series_of(row, old).get(key)
        return None if found is None else getattr(found, f"{t.stat}_ms")

    return breaches(verdict, t, figure)


def distribution(verdict: Verdict, key: str) -> list[tuple[float, float]]:
    """The percentile curve of a metric's latencies from its HDR histogram: (percentile,
    ms) at each recorded value, the last at 100%. Empty without a histogram."""
    summary = verdict.metrics.get(key)
    if summary is None or summary.hdr is None or summary.latency_ms is None:
        return []
    try:
        hist = decode(summary.hdr)
    except Exception:  # hdrh raises many kinds on a damaged encoding: no curve, still a page
        return []
    total = hist.get_total_count()
    if total == 0:
        return []
    points = [(0.0, hist.get_lowest_equivalent_value(hist.get_min_value()) / 1000)]
    seen = 0
    for item in hist.get_recorded_iterator():
        seen += item.count_at_value_iterated_to
        value = hist.get_highest_equivalent_value(item.value_iterated_to) / 1000
        points.append((100 * seen / total, value))
    return points


def curves_for(
    verdict: Verdict, metric: str, palette: Sequence[str]
) -> tuple[list[Curve], list[Mark]]:
    """The percentile curves of ``metric`` and its scopes, and its latency thresholds."""
    keys = [k for k in verdict.metrics if k == metric or k.startswith(metric + ".")]
    curves = [
        Curve(key, palette[i % len(palette)], points, verdict.metrics[key].count)
        for i, key in enumerate(keys)
        if (points := distribution(verdict, key))
    ]
    marks = [
        Mark(case_name(t), float(t.stat[1:]), t.limit)
        for t in verdict.thresholds
        if selector(t) in keys and t.unit == "ms" and _percentile(t.stat)
    ]
    return curves, marks


def _percentile(stat: str) -> bool:
    try:
        return stat.startswith("p") and 0 < float(stat[1:]) <= 100
    except ValueError:
        return False
