"""The recorder: the engine's hot path adds samples; ``close`` hands over a Recording.

Times are nanoseconds since the start of the run. A sample belongs to the stage its
request was *due* in (``start_ns``: the intended send time in the open model) and to
the timeline second it *completed* in (``end_ns``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

from sla_runner.metrics.histogram import LATENCY_HIGHEST_US, gauge_histogram, value_at_percentile
from sla_runner.metrics.recording import (
    GAUGE_SCALE,
    GeneratorStats,
    Recording,
    Series,
    TimelineRow,
)
from sla_runner.metrics.tap import Tap
from sla_runner.plan import Plan
from sla_runner.timeunits import NS_PER_S, NS_PER_US, US_PER_MS


def _second_histogram() -> HdrHistogram:
    # Per-second figures are for display and plots: two digits are plenty and cheap.
    return HdrHistogram(1, LATENCY_HIGHEST_US, 2)


@dataclass(frozen=True)
class LiveStats:
    """What a progress view shows: the last completed second and running totals."""

    elapsed_s: float
    stage: str
    users: int
    http_rps: float  # HTTP requests completed in the last second
    ws_rps: float  # WebSocket round trips completed in the last second
    p95_ms: float | None  # of those HTTP requests
    done: int  # requests and round trips completed so far
    errors: int  # of those, not ok


class Recorder:
    def __init__(self, plan: Plan) -> None:
        self._plan = plan
        self._series: dict[tuple[str, str, int], Series] = {}
        self._gauges: dict[tuple[str, int], HdrHistogram] = {}
        self._samples: dict[str, list[tuple[int, float]]] = {}
        self._timeline: list[TimelineRow] = []
        self._row = TimelineRow(second=0, stage=0)
        self._row_hist = _second_histogram()
        self._users = 0
        self._totals = [0, 0]  # requests + round trips, errors
        self.generator = GeneratorStats()
        self.reconnects: dict[str, int] = {}
        self.notes: list[str] = []
        self.tap: Tap | None = None  # streams: each operation, each closed second

    # -- the hot path ---------------------------------------------------------------------

    def request(
        self, metric: str, scope: str, key: str, latency_ns: int | None, start_ns: int, end_ns: int
    ) -> None:
        """One HTTP request, WS round trip or WS connect ended with outcome ``key``."""
        stage = self._plan.stage_at(start_ns)
        series = self._series.get((metric, scope, stage))
        if series is None:
            series = self._series[(metric, scope, stage)] = Series()
        series.outcomes[key] += 1
        row = self._row_at(end_ns)
        if self.tap is not None:  # after _row_at: the seconds before this one are closed
            self.tap.request(metric, scope, key, latency_ns)
        ok = key == "ok"
        self._totals[0] += 1
        if not ok:
            self._totals[1] += 1
            row.errors += 1
        if latency_ns is not None:
            us = min(max(latency_ns // NS_PER_US, 1), LATENCY_HIGHEST_US)
            series.latency_us.record_value(us)
            if metric == "http":
                self._row_hist.record_value(us)
        if metric == "http":
            row.requests += 1
        elif metric == "ws":
            row.ws_round_trips += 1

    def users(self, held: int, t_ns: int) -> None:
        row = self._row_at(t_ns)  # seconds it skips held what was held before
        self._users = held
        row.users = max(row.users, held)

    # -- slower paths ---------------------------------------------------------------------

    def gauge(self, name: str, value: float, t_ns: int) -> None:
        """A sample of ``process.rss`` (bytes), ``process.cpu`` (percent of one core) or
        ``metric.<alias>`` (a series' value, a counter's per-second rate)."""
        self._samples.setdefault(name, []).append((t_ns, value))
        if self.tap is not None:
            self._row_at(t_ns)  # the seconds before this sample's are closed first
            self.tap.gauge(name, value)
        if name not in GAUGE_SCALE:
            return
        stage = self._plan.stage_at(t_ns)
        hist = self._gauges.get((name, stage))
        if hist is None:
            hist = self._gauges[(name, stage)] = gauge_histogram()
        row = self._row_at(t_ns)
        if name == "process.rss":
            hist.record_value(max(int(value) // 1024, 0))
            row.rss_bytes = int(value)
        else:
            hist.record_value(max(round(value * 100), 0))
            row.cpu_pct = round(value, 2)

    def generator_cpu(self, pct: float) -> None:
        self.generator.cpu_pct.record_value(max(round(pct * 100), 0))

    def loop_lag(self, lag_ns: int) -> None:
        self.generator.loop_lag_us.record_value(
            min(max(lag_ns // NS_PER_US, 1), LATENCY_HIGHEST_US)
        )

    def send_lateness(self, lateness_ns: int, t_ns: int, *, late: bool) -> None:
        self.generator.send_lateness_us.record_value(
            min(max(lateness_ns // NS_PER_US, 1), LATENCY_HIGHEST_US)
        )
        if late:
            self.generator.late += 1
            self._row_at(t_ns).late += 1

    def dropped(self, t_ns: int) -> None:
        self.generator.dropped += 1
        self._row_at(t_ns).dropped += 1

    def arrivals_planned(self, count: int) -> None:
        """Open model: the arrivals the plan asked for up to the end (or the stop) of the run."""
        self.generator.planned += count

    def backoff(self) -> None:
        """A closed-model user paused before its next request: its connection was lost."""
        self.generator.backoffs += 1

    def reconnect(self, channel: str) -> None:
        self.reconnects[channel] = self.reconnects.get(channel, 0) + 1

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def _row_at(self, t_ns: int) -> TimelineRow:
        """The row of the second holding ``t_ns``. Every second gets a row, also one in which
        nothing happened: those it skips carry the users held and count nothing."""
        second = max(t_ns, 0) // NS_PER_S
        row = self._row
        if second <= row.second:
            return row
        while row.second < second:
            self._close_row()
            nxt = row.second + 1
            stage = self._plan.stage_at(nxt * NS_PER_S)
            row = self._row = TimelineRow(second=nxt, stage=stage, users=self._users)
        return row

    def _close_row(self) -> None:
        row, hist = self._row, self._row_hist
        if hist.get_total_count():
            row.p50_ms = value_at_percentile(hist, 50) / US_PER_MS
            row.p95_ms = value_at_percentile(hist, 95) / US_PER_MS
            row.p99_ms = value_at_percentile(hist, 99) / US_PER_MS
            hist.reset()
        self._timeline.append(row)
        if self.tap is not None:
            self.tap.second(row, self._plan.stages[row.stage].name)

    # -- views ----------------------------------------------------------------------------

    def live(self, t_ns: int) -> LiveStats:
        """The last complete second (the current one is still filling)."""
        self._row_at(t_ns)
        last = self._timeline[-1] if self._timeline else self._row
        return LiveStats(
            elapsed_s=t_ns / NS_PER_S,
            stage=self._plan.stages[self._plan.stage_at(t_ns)].name,
            users=self._users,
            http_rps=float(last.requests),
            ws_rps=float(last.ws_round_trips),
            p95_ms=last.p95_ms,
            done=self._totals[0],
            errors=self._totals[1],
        )

    def close(
        self,
        *,
        elapsed_ns: int,
        started_at: float,
        finished_at: float,
        aborted: bool,
        stopped_ns: int | None = None,
    ) -> Recording:
        """Finish the timeline (one row per second of the run) and hand over everything measured.

        ``stopped_ns``: when an aborted run stopped generating load (default: its end). The
        stages it reached are those the plan had entered by then: a response that completes
        in the grace after the stop does not make the next stage reached.
        """
        self._row_at(elapsed_ns - 1)  # a row for every second up to the end of the run
        self._close_row()
        plan = self._plan
        load_ns = plan.duration_ns
        if aborted:
            load_ns = min(elapsed_ns if stopped_ns is None else stopped_ns, load_ns)
        reached = plan.stage_at(load_ns) + 1 if aborted else len(plan.stages)
        return Recording(
            stage_names=list(plan.stage_names),
            stage_durations_ns=[s.duration_ns for s in plan.stages],
            segment=str(plan.segment),
            started_at=started_at,
            finished_at=finished_at,
            elapsed_ns=elapsed_ns,
            load_ns=load_ns,
            stages_reached=reached,
            aborted=aborted,
            series=self._series,
            gauges=self._gauges,
            samples=self._samples,
            timeline=self._timeline,
            generator=self.generator,
            reconnects=Counter(self.reconnects),
            notes=self.notes,
        )
