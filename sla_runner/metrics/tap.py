"""The run as it goes, second by second, for streams: the recorder hands every operation to
a :class:`Tap` (when one is attached) and every closed timeline second, and the tap hands
each second — the timeline row, and per endpoint and channel the outcomes and a latency
histogram of that second — to its sinks (NDJSON and HDR interval logs, the live /metrics).

A sink takes what it needs during the call: the histograms are reset for the next second.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from hdrh.histogram import HdrHistogram

from sla_runner.metrics.histogram import LATENCY_HIGHEST_US, latency_histogram
from sla_runner.metrics.recording import TimelineRow
from sla_runner.timeunits import NS_PER_US


@dataclass
class SeriesSecond:
    """One endpoint's or channel's operations that completed in one second."""

    outcomes: Counter[str]
    latency_us: HdrHistogram  # of those that got an answer (3 significant digits)

    @property
    def count(self) -> int:
        return sum(self.outcomes.values())


@dataclass(frozen=True)
class Second:
    """One closed second of the run."""

    row: TimelineRow
    stage: str
    started_at: float  # the run's start, Unix time
    series: dict[str, SeriesSecond]  # "http.list-items", "ws.prices", "ws_connect.prices"
    # the last sample of each gauge taken in the second: process.rss, metric.<alias>…
    gauges: dict[str, float]


class SecondSink(Protocol):
    def second(self, second: Second) -> None: ...


class Tap:
    """Collects the operations of the second under way; hands each closed one to the sinks."""

    def __init__(self, sinks: Sequence[SecondSink]) -> None:
        self.sinks = list(sinks)
        self.started_at = 0.0  # set by the engine when the run's clock starts
        self._series: dict[tuple[str, str], SeriesSecond] = {}
        self._gauges: dict[str, float] = {}

    def request(self, metric: str, scope: str, key: str, latency_ns: int | None) -> None:
        series = self._series.get((metric, scope))
        if series is None:
            series = self._series[(metric, scope)] = SeriesSecond(Counter(), latency_histogram())
        series.outcomes[key] += 1
        if latency_ns is not None:
            series.latency_us.record_value(min(max(latency_ns // NS_PER_US, 1), LATENCY_HIGHEST_US))

    def gauge(self, name: str, value: float) -> None:
        self._gauges[name] = value

    def second(self, row: TimelineRow, stage: str) -> None:
        """``row`` closed: hand it, with the operations collected since the last, to the sinks."""
        series = {f"{m}.{scope}": s for (m, scope), s in sorted(self._series.items()) if s.count}
        done = Second(row, stage, self.started_at, series, dict(sorted(self._gauges.items())))
        self._gauges.clear()
        for sink in self.sinks:
            sink.second(done)
        for s in self._series.values():
            s.outcomes.clear()
            s.latency_us.reset()
