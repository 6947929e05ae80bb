"""The run as it goes, second by second, for streams: as each timeline second closes the
recorder hands a :class:`Tap` (when one is attached) that second's figures per endpoint and
channel — its outcomes and latency histogram, the recorder's own, scenarios added (flows
are not streamed) — and then the row; the tap hands the whole second to its sinks (NDJSON
and HDR interval logs, the live /metrics). No sample is recorded twice: the tap adds the
recorder's histogram of the second (in C) instead of recording each sample itself.

A sink takes what it needs during the call: the histograms are reset for the next second.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from hdrh.histogram import HdrHistogram

from sla_runner.metrics.histogram import add_into, clear, latency_histogram
from sla_runner.metrics.recording import TimelineRow


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

    def series(
        self, metric: str, scope: str, outcomes: Mapping[str, int], latency_us: HdrHistogram
    ) -> None:
        """What ``metric`` of ``scope`` completed in the second closing: the recorder's
        outcomes and histogram of it, taken before the recorder resets them."""
        series = self._series.get((metric, scope))
        if series is None:
            series = self._series[(metric, scope)] = SeriesSecond(Counter(), latency_histogram())
        series.outcomes.update(outcomes)
        add_into(series.latency_us, latency_us)

    def gauge(self, name: str, value: float) -> None:
        self._gauges[name] = value

    def second(self, row: TimelineRow, stage: str) -> None:
        """``row`` closed: hand it, with the series given since the last, to the sinks."""
        series = {f"{m}.{scope}": s for (m, scope), s in sorted(self._series.items()) if s.count}
        done = Second(row, stage, self.started_at, series, dict(sorted(self._gauges.items())))
        self._gauges.clear()
        for sink in self.sinks:
            sink.second(done)
        for s in self._series.values():
            s.outcomes.clear()
            clear(s.latency_us)
