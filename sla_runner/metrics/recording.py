"""A Recording: everything one run measured, serialisable and exactly mergeable.

Latencies live in one HDR histogram per (metric, endpoint/channel, stage), in
microseconds; outcomes are counted per the same key; gauges (the service's memory
and CPU) are HDR histograms per stage; a per-second timeline carries the shape of
the run. Two recordings of one spec merge exactly: histograms add, counters add,
timeline rows of the same second add, and each second's histograms (``seconds``: per
metric, endpoint/channel and scenario, what thresholds over windows are judged on) add
second by second, exactly. A merged row's p50/p95/p99 are its second's histograms' added
(one process's figures) when both recordings carry ``seconds``; otherwise (a verdict or a
``run --workers`` part that judges no window, an older recording) the worse of the parts'.

A run of several scenarios (spec format 2) records them side by side: every stage of every
scenario has its index (``stage_names``), its start from the run's start
(``stage_starts_ns``) and its scenario (``stage_scenarios``), so a sample belongs to the
stage of its own scenario it was due in and a stage's window is its own. The timeline's
rows add each scenario's users (``TimelineRow.scenario_users``, when there are several).
A pass through a flow is the metric ``flow`` scoped by its scenario; its outcome is ``ok``
or ``<step>:<kind>`` (the step that failed it and how), and ``reasons`` keeps the first
reason given for each such failure. Recordings written before these fields existed read
as one scenario whose stages follow each other.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from sla_runner.metrics.histogram import (
    add_into,
    decode,
    encode,
    gauge_histogram,
    latency_histogram,
)
from sla_runner.metrics.rows import GeneratorStats, SecondFigures, TimelineRow
from sla_runner.metrics.seconds import Seconds
from sla_runner.timeunits import NS_PER_S

__all__ = [
    "GAUGES",
    "GAUGE_SCALE",
    "RECORDING_FORMAT",
    "GeneratorStats",
    "Recording",
    "SecondFigures",
    "Series",
    "SeriesKey",
    "TimelineRow",
]

RECORDING_FORMAT = 1
GAUGES = ("process.rss", "process.cpu")
# Gauge storage units: rss in KiB, cpu in hundredths of a percent.
GAUGE_SCALE = {"process.rss": 1024, "process.cpu": 0.01}

SeriesKey = tuple[str, str, int]  # (metric, endpoint or channel, stage index)


@dataclass
class Series:
    latency_us: HdrHistogram = field(default_factory=latency_histogram)
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def count(self) -> int:
        return sum(self.outcomes.values())

    @property
    def errors(self) -> int:
        return self.count - self.outcomes.get("ok", 0)


@dataclass
class Recording:
    stage_names: list[str]
    stage_durations_ns: list[int]
    segment: str = "1/1"
    started_at: float = 0.0  # Unix time
    finished_at: float = 0.0
    elapsed_ns: int = 0  # the whole run, the drain after the load included
    # How long the load ran: the planned duration, or an aborted run's time up to its stop
    # (not the grace after it). 0 when unknown (recordings written before it was kept).
    load_ns: int = 0
    stages_reached: int = 0  # how many stages the run entered (all of them unless aborted)
    aborted: bool = False
    series: dict[SeriesKey, Series] = field(default_factory=dict)
    gauges: dict[tuple[str, int], HdrHistogram] = field(default_factory=dict)
    # Every gauge sample as taken, (ns since the start, value), per gauge: process.rss
    # (bytes), process.cpu (%), metric.<alias>; for slope(...) and the series of target.metrics
    samples: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    timeline: list[TimelineRow] = field(default_factory=list)
    generator: GeneratorStats = field(default_factory=GeneratorStats)
    reconnects: Counter[str] = field(default_factory=Counter)  # per channel
    notes: list[str] = field(default_factory=list)
    # Format 2 (see the module): each stage's start and scenario; empty in recordings of one
    # scenario written before, read as stages that follow each other from 0.
    stage_starts_ns: list[int] = field(default_factory=list)
    stage_scenarios: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)  # "flow.<s>:<step>:<kind>" → why
    # Each second's histogram per (metric, scope, scenario), compressed: what thresholds over
    # windows are judged on (empty in recordings written without them).
    seconds: Seconds = field(default_factory=Seconds)
    # Each stage's warmup (format 2: its first seconds, left out of judgement); empty: none
    stage_warmups_ns: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.stage_starts_ns:
            self.stage_starts_ns = [
                sum(self.stage_durations_ns[:i]) for i in range(len(self.stage_durations_ns))
            ]
        if not self.stage_scenarios:
            self.stage_scenarios = ["default"] * len(self.stage_names)
        if not self.stage_warmups_ns:
            self.stage_warmups_ns = [0] * len(self.stage_names)

    # -- queries -------------------------------------------------------------------------

    def stage_index(self, name: str) -> int:
        return self.stage_names.index(name)

    @property
    def scenarios(self) -> list[str]:
        """The scenarios recorded, in the spec's order."""
        return list(dict.fromkeys(self.stage_scenarios))

    def scenario_stages(self, scenario: str) -> frozenset[int]:
        return frozenset(i for i, s in enumerate(self.stage_scenarios) if s == scenario)

    def select(
        self, metric: str, scope: str | None, stage: int | None, scenario: str | None = None
    ) -> list[Series]:
        """The series of a metric, for one endpoint/channel or all, for one stage or all, of
        one scenario or all."""
        stages = self.scenario_stages(scenario) if scenario is not None else None
        return [
            s
            for (m, sc, st), s in self.series.items()
            if m == metric
            and (scope is None or sc == scope)
            and (stage is None or st == stage)
            and (stages is None or st in stages)
        ]

    def warmups(self, stage: int | None, scenario: str | None = None) -> list[tuple[int, int, int]]:
        """The warmups of the stages a judging window holds (one stage, one scenario's, or
        every one): (stage, start, end), from the run's start."""
        if stage is not None:
            stages = [stage]
        elif scenario is not None:
            stages = sorted(self.scenario_stages(scenario))
        else:
            stages = list(range(len(self.stage_names)))
        return [
            (i, self.stage_starts_ns[i], self.stage_starts_ns[i] + self.stage_warmups_ns[i])
            for i in stages
            if self.stage_warmups_ns[i]
        ]

    def reached(self, stage: int) -> bool:
        """Whether the run entered ``stage`` (an aborted run stops before some)."""
        if not self.aborted:
            return True
        if len(self.scenarios) == 1:  # stages follow each other: the first ones were entered
            return stage < self.stages_reached
        start = self.stage_starts_ns[stage]
        ran = self.load_ns or self.elapsed_ns
        return start == 0 or start <= ran

    def gauge(self, name: str, stage: int | None) -> HdrHistogram:
        out = gauge_histogram()
        for (g, st), h in self.gauges.items():
            if g == name and (stage is None or st == stage):
                add_into(out, h)
        return out

    def load_rows(self, stage: int | None = None, scenario: str | None = None) -> list[TimelineRow]:
        """The timeline seconds of the load (of one stage, of one scenario's stages, or of
        the whole run): those that start within its window, not those of the drain after the
        plan or of an aborted run's grace, where users are leaving."""
        start, end = self.span_ns(stage, scenario)
        stop = min(end, self.window_ns(None))
        return [r for r in self.timeline if start <= r.second * NS_PER_S < stop]

    @property
    def planned_ns(self) -> int:
        """The planned length of the load: until the last stage of any scenario ends."""
        return self.span_ns(None)[1]

    def span_ns(self, stage: int | None, scenario: str | None = None) -> tuple[int, int]:
        """Where a judging window lies as planned, from the run's start: one stage, one
        scenario (its first stage's start to its last stage's end), or the whole run."""
        if stage is not None:
            start = self.stage_starts_ns[stage]
            return start, start + self.stage_durations_ns[stage]
        ends = [s + d for s, d in zip(self.stage_starts_ns, self.stage_durations_ns, strict=True)]
        if scenario is None or len(self.scenarios) == 1:
            return 0, max(ends, default=0)
        own = sorted(self.scenario_stages(scenario))
        if not own:
            return 0, 0
        return min(self.stage_starts_ns[i] for i in own), max(ends[i] for i in own)

    def window_ns(self, stage: int | None, scenario: str | None = None) -> int:
        """How long a judging window ran: one stage or one scenario's (an aborted run's cut
        short at its stop), or the whole run's load — the planned stages, not the drain
        after them nor the grace an aborted run gives its in-flight requests."""
        start, end = self.span_ns(stage, scenario)
        ran = self.load_ns or self.elapsed_ns  # recordings without load_ns: the old reckoning
        if stage is None and start == 0 and end == self.span_ns(None)[1]:
            return min(ran, end) if ran > 0 else end
        full = end - start
        if not self.aborted or ran <= 0:
            return full
        return min(max(ran - start, 0), full)

    # -- merge and serialise ------------------------------------------------------------

    def describe_stages(self) -> str:
        """``warm 10s, steady 1m``: each stage's name and planned duration."""
        return ", ".join(
            f"{name} {ns / NS_PER_S:g}s"
            for name, ns in zip(self.stage_names, self.stage_durations_ns, strict=True)
        )

    def merge(self, other: Recording) -> Recording:
        """A new recording holding both; the inputs are left as they were."""
        if self.stage_names != other.stage_names:
            raise ValueError("recordings of different plans cannot be merged (stages differ)")
        if (self.stage_scenarios, self.stage_starts_ns) != (
            other.stage_scenarios,
            other.stage_starts_ns,
        ) and self.stage_durations_ns == other.stage_durations_ns:
            raise ValueError(
                "recordings of different plans cannot be merged (scenarios or start offsets "
                "differ; was one run with --set overrides?)"
            )
        if self.stage_durations_ns != other.stage_durations_ns:
            raise ValueError(
                "recordings of different plans cannot be merged (stage durations differ: "
                f"{other.describe_stages()} against {self.describe_stages()}; "
                "was one run with --set overrides?)"
            )
        out = Recording.from_dict(self.to_dict(seconds=False))
        out.seconds = self.seconds.merge(other.seconds)
        for key, series in other.series.items():
            mine = out.series.setdefault(key, Series())
            add_into(mine.latency_us, series.latency_us)
            mine.outcomes.update(series.outcomes)
        for gkey, hist in other.gauges.items():
            add_into(out.gauges.setdefault(gkey, gauge_histogram()), hist)
        for name, taken in other.samples.items():
            out.samples[name] = sorted([*out.samples.get(name, []), *taken])
        rows = {row.second: row for row in out.timeline}
        for row in other.timeline:
            if row.second in rows:
                rows[row.second].merge(row)
            else:
                rows[row.second] = TimelineRow.from_dict(row.to_dict())
        out.timeline = [rows[s] for s in sorted(rows)]
        if self.seconds and other.seconds:
            out.seconds.exact_rows(out.timeline)
        g, og = out.generator, other.generator
        add_into(g.cpu_pct, og.cpu_pct)
        add_into(g.loop_lag_us, og.loop_lag_us)
        add_into(g.send_lateness_us, og.send_lateness_us)
        g.planned += og.planned
        g.dropped += og.dropped
        g.late += og.late
        g.backoffs += og.backoffs
        out.reconnects.update(other.reconnects)
        out.notes.extend(n for n in other.notes if n not in out.notes)
        for why, reason in other.reasons.items():
            out.reasons.setdefault(why, reason)
        out.started_at = min(self.started_at, other.started_at)
        out.finished_at = max(self.finished_at, other.finished_at)
        out.elapsed_ns = max(self.elapsed_ns, other.elapsed_ns)
        # The whole load ran only until the first of the parts stopped: an aborted part cuts
        # the merged windows short there, as an aborted run cuts its own (judge/windows).
        aborted = [r for r in (self, other) if r.aborted]
        out.load_ns = (
            min(r.load_ns for r in aborted) if aborted else max(self.load_ns, other.load_ns)
        )
        out.stages_reached = min(r.stages_reached for r in aborted or (self, other))
        out.aborted = self.aborted or other.aborted
        out.segment = "merged"
        return out

    def to_dict(self, *, seconds: bool = True) -> dict[str, Any]:
        """The recording as JSON data; ``seconds=False`` leaves the per-second histograms
        out (a verdict none of whose thresholds judges windows)."""
        g = self.generator
        return {
            "format": RECORDING_FORMAT,
            "stage_names": list(self.stage_names),
            "stage_durations_ns": list(self.stage_durations_ns),
            "segment": self.segment,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "elapsed_ns": self.elapsed_ns,
            "load_ns": self.load_ns,
            "stages_reached": self.stages_reached,
            "aborted": self.aborted,
            "series": [
                {
                    "metric": m,
                    "scope": sc,
                    "stage": st,
                    "outcomes": dict(sorted(s.outcomes.items())),
                    "hdr": encode(s.latency_us),
                }
                for (m, sc, st), s in sorted(self.series.items())
            ],
            "gauges": [
                {"gauge": name, "stage": st, "hdr": encode(h)}
                for (name, st), h in sorted(self.gauges.items())
            ],
            "samples": {
                name: [[t, v] for t, v in taken] for name, taken in sorted(self.samples.items())
            },
            "timeline": [row.to_dict() for row in self.timeline],
            "generator": {
                "cpu_pct_hdr": encode(g.cpu_pct),
                "loop_lag_us_hdr": encode(g.loop_lag_us),
                "send_lateness_us_hdr": encode(g.send_lateness_us),
                "planned": g.planned,
                "dropped": g.dropped,
                "late": g.late,
                "backoffs": g.backoffs,
            },
            "reconnects": dict(sorted(self.reconnects.items())),
            "notes": list(self.notes),
            **self._scenario_fields(),
            **({"seconds": self.seconds.to_list()} if seconds and self.seconds else {}),
        }

    def _scenario_fields(self) -> dict[str, Any]:
        """Format 2's fields: left out for one scenario whose stages follow each other, so
        such a recording is written as before."""
        follows = [sum(self.stage_durations_ns[:i]) for i in range(len(self.stage_names))]
        out: dict[str, Any] = {}
        if self.stage_starts_ns != follows or set(self.stage_scenarios) != {"default"}:
            out["stage_starts_ns"] = list(self.stage_starts_ns)
            out["stage_scenarios"] = list(self.stage_scenarios)
        if self.reasons:
            out["reasons"] = dict(sorted(self.reasons.items()))
        if any(self.stage_warmups_ns):
            out["stage_warmups_ns"] = list(self.stage_warmups_ns)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recording:
        if data.get("format") != RECORDING_FORMAT:
            raise ValueError(f"unsupported recording format {data.get('format')!r}")
        gen = data["generator"]
        return cls(
            stage_names=list(data["stage_names"]),
            stage_durations_ns=[int(x) for x in data["stage_durations_ns"]],
            segment=str(data["segment"]),
            started_at=float(data["started_at"]),
            finished_at=float(data["finished_at"]),
            elapsed_ns=int(data["elapsed_ns"]),
            load_ns=int(data.get("load_ns", 0)),
            stages_reached=int(data["stages_reached"]),
            aborted=bool(data["aborted"]),
            series={
                (s["metric"], s["scope"], int(s["stage"])): Series(
                    decode(s["hdr"]), Counter({k: int(v) for k, v in s["outcomes"].items()})
                )
                for s in data["series"]
            },
            gauges={(g["gauge"], int(g["stage"])): decode(g["hdr"]) for g in data["gauges"]},
            samples={  # absent from recordings written before samples were kept
                name: [(int(t), float(v)) for t, v in taken]
                for name, taken in data.get("samples", {}).items()
            },
            timeline=[TimelineRow.from_dict(row) for row in data["timeline"]],
            generator=GeneratorStats(
                cpu_pct=decode(gen["cpu_pct_hdr"]),
                loop_lag_us=decode(gen["loop_lag_us_hdr"]),
                send_lateness_us=decode(gen["send_lateness_us_hdr"]),
                planned=int(gen["planned"]),
                dropped=int(gen["dropped"]),
                late=int(gen["late"]),
                backoffs=int(gen.get("backoffs", 0)),
            ),
            reconnects=Counter({k: int(v) for k, v in data["reconnects"].items()}),
            notes=list(data["notes"]),
            stage_starts_ns=[int(x) for x in data.get("stage_starts_ns", [])],
            stage_scenarios=[str(x) for x in data.get("stage_scenarios", [])],
            reasons={str(k): str(v) for k, v in data.get("reasons", {}).items()},
            seconds=Seconds.from_list(data.get("seconds", [])),
            stage_warmups_ns=[int(x) for x in data.get("stage_warmups_ns", [])],
        )
