"""Reading a source every interval while the run goes.

A gauge is recorded as read; a counter as its per-second rate between two reads (from the
second read on; a counter that went down was restarted, and counts from zero). A read is
stamped with the time it was asked for, as Prometheus stamps a scrape: reads start at
least an interval apart, so a rate is never taken over the few milliseconds between a slow
answer and a quick one. A read that
fails is not fatal: the run goes on, the source is asked again at its next interval, and
when the run ends one note says how many reads went unanswered, from when and why, and
that its thresholds are judged on the reads it answered. A series missing from an answer
is noted once.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import httpx

from sla_runner.engine.sources.scrape import SourceError
from sla_runner.engine.sources.source import Source
from sla_runner.metrics.recorder import Recorder
from sla_runner.timeunits import NS_PER_S

Clock = Callable[[], int]  # nanoseconds since the start of the run


class _Outages:
    """What a source did not answer: counted, with the first time and reason."""

    def __init__(self) -> None:
        self.asked = 0
        self.failed = 0
        self.first: tuple[float, str] | None = None
        self.down = False  # the last read failed

    def failure(self, at_s: float, why: str) -> None:
        self.asked += 1
        self.failed += 1
        self.down = True
        if self.first is None:
            self.first = (at_s, why)

    def answer(self) -> None:
        self.asked += 1
        self.down = False

    def note(self, source: Source) -> str | None:
        if self.first is None:
            return None
        at_s, why = self.first
        end = "; it did not answer again" if self.down else ""
        answered = self.asked - self.failed
        return (
            f"{source.where} ({source.shown}) did not answer {self.failed} of its "
            f"{self.asked} reads, the first at {at_s:.1f}s: {why}{end}; "
            f"{', '.join(source.metrics)} are judged on the {answered} reads it answered"
        )


async def sample(
    source: Source, client: httpx.AsyncClient, recorder: Recorder, clock: Clock
) -> None:
    """Read ``source`` every interval until cancelled, recording what it answers."""
    last: dict[str, tuple[int, float]] = {}  # a counter's previous read: (t_ns, total)
    outages = _Outages()
    missing: set[str] = set()
    interval_ns = int(source.interval_s * NS_PER_S)
    try:
        while True:
            started = clock()
            try:
                readings = await source.read(client)
            except SourceError as exc:
                outages.failure(started / NS_PER_S, str(exc))
            else:
                outages.answer()
                # Stamped when asked, as Prometheus stamps a scrape: asks are at least an
                # interval apart, answers may come in bursts (a slow one, then a quick one).
                now = started
                for metric, reading in readings.items():
                    if not reading.counter:
                        recorder.gauge(metric, reading.value, now)
                        continue
                    before, last[metric] = last.get(metric), (now, reading.value)
                    if before is not None and now > before[0]:
                        grown = reading.value - before[1]
                        grown = reading.value if grown < 0 else grown  # restarted
                        recorder.gauge(metric, grown * NS_PER_S / (now - before[0]), now)
                for metric in source.metrics:
                    if metric not in readings and metric not in missing:
                        missing.add(metric)
                        selector = source.series[metric].text
                        recorder.note(
                            f"{metric}: {source.shown} did not have {selector} at "
                            f"{now / NS_PER_S:.1f}s; it is judged on the reads that had it"
                        )
            await anyio.sleep(max(started + interval_ns - clock(), 0) / NS_PER_S)
    finally:
        text = outages.note(source)
        if text is not None:
            recorder.note(text)
