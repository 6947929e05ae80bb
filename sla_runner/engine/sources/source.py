"""A source: one place the run reads figures from, and how one read goes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import httpx

from sla_runner.engine.sources.cgroup import read_cgroup
from sla_runner.engine.sources.scrape import Reading, Scrape, scrape
from sla_runner.spec.series import SeriesSelector

MAX_SCRAPE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Source:
    """One place the run reads figures from, every ``interval_s``."""

    where: str  # where the spec names it: target.process, target.metrics
    address: str  # the URL or the directory
    interval_s: float
    series: dict[str, SeriesSelector] = field(default_factory=dict)  # metric → selector
    memory: Literal["current", "anon"] = "current"  # a cgroup's process.rss

    @property
    def shown(self) -> str:
        """The address as messages and notes show it: a URL without its credentials."""
        parts = urlsplit(self.address)
        return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()

    @property
    def metrics(self) -> tuple[str, ...]:
        return ("process.rss", "process.cpu") if not self.series else tuple(self.series)

    @property
    def timeout_s(self) -> float:
        return min(max(self.interval_s, 1.0), MAX_SCRAPE_TIMEOUT_S)

    async def read(self, client: httpx.AsyncClient) -> dict[str, Reading]:
        """The figures of one read (a counter's as its running total); SourceError when
        the source does not answer. A series missing from the answer is left out."""
        if not self.series:  # a cgroup
            return read_cgroup(Path(self.address), self.memory)
        return self.pick(await scrape(client, self.address, self.timeout_s))

    def pick(self, found: Scrape) -> dict[str, Reading]:
        out = {}
        for metric, selector in self.series.items():
            reading = found.pick(selector)
            if reading is not None:
                # process_cpu_seconds_total: seconds of CPU → percent of one core × seconds
                scale = 100.0 if metric == "process.cpu" else 1.0
                out[metric] = Reading(reading.value * scale, reading.counter)
        return out
