"""The recorder: the engine's hot path adds samples; ``close`` hands over a Recording.

Times are nanoseconds since the start of the run. A sample belongs to the stage its
request was *due* in (``start_ns``: the intended send time in the open model) and to
the timeline second it *completed* in (``end_ns``).

Each scenario's executor writes to its own :class:`ScenarioSink` (:meth:`Recorder.scenario`),
which puts its samples in that scenario's stages and keeps its users apart; the recorder
adds them up. A pass through a flow (metric ``flow``) counts in its series and its
second's figures (``TimelineRow.series``), not in the timeline's requests and errors.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

from sla_runner.metrics.current import OpenSecond, second_figures
from sla_runner.metrics.histogram import (
    LATENCY_HIGHEST_US,
    add_into,
    clear,
    compress,
    gauge_histogram,
    latency_histogram,
    record_latency,
)
from sla_runner.metrics.recording import (
    GAUGE_SCALE,
    GeneratorStats,
    Recording,
    Series,
    TimelineRow,
)
from sla_runner.metrics.seconds import Seconds
from sla_runner.metrics.tap import Tap
from sla_runner.plan import Plan, Timeline
from sla_runner.spec.thresholds import FLOW_METRIC
from sla_runner.timeunits import NS_PER_S, NS_PER_US


@dataclass(frozen=True)
class ScenarioLive:
    """One scenario's part of the progress view."""

    name: str
    stage: str  # its stage now (its first before it starts, its last once it ended)
    users: int  # users held (open model: requests in flight)
    http_rps: float  # its HTTP requests completed in the last second


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
    scenarios: tuple[ScenarioLive, ...] = field(default=())  # a run of several scenarios


class ScenarioSink:
    """What one scenario's executor writes to (the executor's
    :class:`~sla_runner.engine.executor.Sink`): its samples go to its own stages, its
    users are counted apart and added to the run's."""

    __slots__ = (
        "_add",
        "_index",
        "_name",
        "_passes",
        "_recorder",
        "_span",
        "_stages",
        "_starts",
    )

    def __init__(self, recorder: Recorder, index: int, timeline: Timeline) -> None:
        self._recorder = recorder
        self._add = recorder.add
        self._index = index
        self._name = timeline.name
        self._starts = [s.start_ns for s in timeline.stages]
        self._stages = [s.index for s in timeline.stages]
        self._span = (0, -1, 0)  # the last stage found: [start, end) and its index
        self._passes: dict[int, tuple[Series, OpenSecond]] = {}  # flow passes, per stage

    def request(
        self, metric: str, scope: str, key: str, latency_ns: int | None, start_ns: int, end_ns: int
    ) -> None:
        low, high, stage = self._span
        if not low <= start_ns < high:  # not the stage of the last sample: look it up
            stage = self._stage(start_ns)
        self._add(metric, scope, key, latency_ns, stage, end_ns, self._index)

    def passed(self, key: str, took_ns: int | None, start_ns: int, end_ns: int) -> None:
        """One pass through this scenario's flow (metric ``flow``, scope the scenario) ended
        ``key``, ``took_ns`` when it ran through: what :meth:`Recorder.add` does for a pass,
        its series and open second found once per stage (a pass is a flow's own cost)."""
        low, high, stage = self._span
        if not low <= start_ns < high:
            stage = self._stage(start_ns)
        recorder = self._recorder
        if end_ns >= (recorder._row.second + 1) * NS_PER_S:  # the rows before close first
            recorder._row_at(end_ns)
        slot = self._passes.get(stage)
        if slot is None:
            slot = self._passes[stage] = recorder.slot(FLOW_METRIC, self._name, stage, self._index)
        series, second = slot
        series.outcomes[key] += 1
        second.outcomes[key] = second.outcomes.get(key, 0) + 1
        if took_ns is not None:
            us = took_ns // NS_PER_US
            us = 1 if us < 1 else LATENCY_HIGHEST_US if us > LATENCY_HIGHEST_US else us
            record_latency(series.latency_us, second.hist, us)

    def _stage(self, start_ns: int) -> int:
        starts = self._starts
        local = bisect_right(starts, start_ns) - 1
        if local < 0:  # before its first stage: counted in it
            self._span = (-(2**63), starts[0], self._stages[0])
            return self._stages[0]
        high = starts[local + 1] if local + 1 < len(starts) else 2**63
        self._span = (starts[local], high, self._stages[local])
        return self._stages[local]

    def users(self, held: int, t_ns: int) -> None:
        self._recorder.scenario_users(self._index, held, t_ns)

    def reason(self, key: str, text: str) -> None:
        """Why a pass of this scenario's flow failed as ``key`` (``<step>:<kind>``): the
        first reason given for each is kept."""
        self._recorder.reasons.setdefault(f"flow.{self._name}:{key}", text)

    def backoff(self) -> None:
        self._recorder.backoff()

    def reconnect(self, channel: str) -> None:
        self._recorder.reconnect(channel)

    def send_lateness(self, lateness_ns: int, t_ns: int, *, late: bool) -> None:
        self._recorder.send_lateness(lateness_ns, t_ns, late=late)

    def dropped(self, t_ns: int) -> None:
        self._recorder.dropped(t_ns)

    def arrivals_planned(self, count: int) -> None:
        self._recorder.arrivals_planned(count)


class Recorder:
    def __init__(self, plan: Plan) -> None:
        self._plan = plan
        names = [t.name for t in plan.scenarios]
        self._names = names if len(names) > 1 else []  # per-scenario users: several only
        self._series: dict[tuple[str, str, int], Series] = {}
        self._gauges: dict[tuple[str, int], HdrHistogram] = {}
        self._samples: dict[str, list[tuple[int, float]]] = {}
        self._timeline: list[TimelineRow] = []
        self._row = TimelineRow(second=0, stage=0, scenario_users=dict.fromkeys(self._names, 0))
        # the current second's, per (metric, scope, scenario index)
        self._seconds: dict[tuple[str, str, int], OpenSecond] = {}
        self._whole = latency_histogram()  # a metric's, summed from its scopes' at the end
        self._scope = latency_histogram()  # a scope's of several scenarios, summed likewise
        self._scenario_names = [t.name for t in plan.scenarios]
        self._closed = Seconds()  # every closed second's histograms, compressed
        self._users = 0
        self._held = [0] * len(names)  # per scenario
        self._requests = [0] * len(names)  # HTTP requests per scenario, this second
        self._last_requests = [0] * len(names)  # ... and the last complete second
        self._totals = [0, 0]  # requests + round trips, errors
        self._scenario_of = {s.index: i for i, t in enumerate(plan.scenarios) for s in t.stages}
        self.generator = GeneratorStats()
        self.reconnects: dict[str, int] = {}
        self.notes: list[str] = []
        self.tap: Tap | None = None  # streams: each closed second
        self.reasons: dict[str, str] = {}

    def scenario(self, index: int) -> ScenarioSink:
        """The sink of the plan's ``index``-th scenario."""
        return ScenarioSink(self, index, self._plan.scenarios[index])

    # -- the hot path ---------------------------------------------------------------------

    def request(
        self, metric: str, scope: str, key: str, latency_ns: int | None, start_ns: int, end_ns: int
    ) -> None:
        """One HTTP request, WS round trip or WS connect ended with outcome ``key``, in the
        stage the plan shows at ``start_ns`` (a run of one scenario: its stage then)."""
        stage = self._plan.stage_at(start_ns)
        self.add(metric, scope, key, latency_ns, stage, end_ns, self._scenario_of[stage])

    def add(
        self,
        metric: str,
        scope: str,
        key: str,
        latency_ns: int | None,
        stage: int,
        end_ns: int,
        scenario: int,
    ) -> None:
        """One request, round trip, connect or flow pass of ``scenario``, in ``stage``."""
        series = self._series.get((metric, scope, stage))
        if series is None:
            series = self.slot(metric, scope, stage, scenario)[0]
        series.outcomes[key] += 1
        row = self._row
        if end_ns >= (row.second + 1) * NS_PER_S:  # a later second: the rows before close
            row = self._row_at(end_ns)
        second = self._seconds.get((metric, scope, scenario))
        if second is None:
            second = self.slot(metric, scope, stage, scenario)[1]
        second.outcomes[key] = second.outcomes.get(key, 0) + 1
        if latency_ns is not None:
            us = latency_ns // NS_PER_US
            us = 1 if us < 1 else LATENCY_HIGHEST_US if us > LATENCY_HIGHEST_US else us
            record_latency(series.latency_us, second.hist, us)
        if metric == FLOW_METRIC:  # a pass: in its series and the second's, not the row's counts
            return
        self._totals[0] += 1
        if key != "ok":
            self._totals[1] += 1
            row.errors += 1
        if metric == "http":
            row.requests += 1
            self._requests[scenario] += 1
        elif metric == "ws":
            row.ws_round_trips += 1

    def slot(self, metric: str, scope: str, stage: int, scenario: int) -> tuple[Series, OpenSecond]:
        """The series of ``metric.scope`` in ``stage`` and its open second in ``scenario``,
        made on first use; both are kept for the whole run (a second is reset in place when
        it closes), so a caller may hold them."""
        series = self._series.get((metric, scope, stage))
        if series is None:
            series = self._series[(metric, scope, stage)] = Series()
        second = self._seconds.get((metric, scope, scenario))
        if second is None:
            second = self._seconds[(metric, scope, scenario)] = OpenSecond()
        return series, second

    def users(self, held: int, t_ns: int) -> None:
        """Users held by a run of one scenario (a run of several: each scenario's sink)."""
        self.scenario_users(0, held, t_ns)

    def scenario_users(self, scenario: int, held: int, t_ns: int) -> None:
        row = self._row_at(t_ns)  # seconds it skips held what was held before
        self._users += held - self._held[scenario]
        self._held[scenario] = held
        row.users = max(row.users, self._users)
        if self._names:
            name = self._names[scenario]
            row.scenario_users[name] = max(row.scenario_users[name], held)

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
        row = self._row_at(t_ns)
        row.arrivals += 1
        if late:
            self.generator.late += 1
            row.late += 1

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
            carried = dict(zip(self._names, self._held, strict=False))
            row = self._row = TimelineRow(
                second=nxt, stage=stage, users=self._users, scenario_users=carried
            )
        return row

    def _close_row(self) -> None:
        self._last_requests = self._requests
        self._requests = [0] * len(self._requests)
        row = self._row
        by_metric: dict[str, dict[str, list[OpenSecond]]] = {}
        for (metric, scope, scenario), second in self._seconds.items():
            if second.outcomes:
                by_metric.setdefault(metric, {}).setdefault(scope, []).append(second)
                ok = second.outcomes.get("ok", 0)
                count = sum(second.outcomes.values())
                key = (metric, scope, self._scenario_names[scenario])
                self._closed.put(key, row.second, count, ok, compress(second.hist))
        whole, one, tap = self._whole, self._scope, self.tap
        for metric, scopes in by_metric.items():
            outcomes: Counter[str] = Counter()
            for scope, parts in scopes.items():
                mine: Counter[str] = Counter()
                for part in parts:
                    mine.update(part.outcomes)
                hist = parts[0].hist
                if len(parts) > 1:  # several scenarios: their histograms added
                    hist = one
                    for part in parts:
                        add_into(one, part.hist)
                row.series[f"{metric}.{scope}"] = second_figures(hist, dict(mine))
                if tap is not None and metric != FLOW_METRIC:  # streams: before the reset
                    tap.series(metric, scope, mine, hist)
                add_into(whole, hist)
                outcomes.update(mine)
                clear(one)
                for part in parts:
                    part.reset()
            row.series[metric] = second_figures(whole, outcomes)
            clear(whole)
        row.take_http()  # the HTTP figures every row has carried from the start
        self._timeline.append(row)
        if self.tap is not None:
            self.tap.second(row, self._plan.stages[row.stage].name)

    # -- views ----------------------------------------------------------------------------

    def live(self, t_ns: int) -> LiveStats:
        """The last complete second (the current one is still filling)."""
        self._row_at(t_ns)
        last = self._timeline[-1] if self._timeline else self._row
        plan = self._plan
        scenarios = tuple(
            ScenarioLive(
                name=t.name,
                stage=plan.stages[t.stage_at(t_ns)].name,
                users=self._held[i],
                http_rps=float(self._last_requests[i] if self._timeline else 0),
            )
            for i, t in enumerate(plan.scenarios)
            if self._names
        )
        return LiveStats(
            elapsed_s=t_ns / NS_PER_S,
            stage=plan.stages[plan.stage_at(t_ns)].name,
            users=self._users,
            http_rps=float(last.requests),
            ws_rps=float(last.ws_round_trips),
            p95_ms=last.p95_ms,
            done=self._totals[0],
            errors=self._totals[1],
            scenarios=scenarios,
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
        reached = len(plan.stages)
        if aborted:
            reached = sum(plan.stage_reached(s.index, load_ns) for s in plan.stages)
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
            stage_starts_ns=[s.start_ns for s in plan.stages],
            stage_scenarios=[s.scenario for s in plan.stages],
            reasons=self.reasons,
            seconds=self._closed,
            stage_warmups_ns=[s.warmup_ns for s in plan.stages],
        )
