"""Where ``process.rss``, ``process.cpu`` and ``metric.<alias>`` come from, besides psutil.

- ``target.process.metrics_url``: the service's own Prometheus endpoint;
  ``process_resident_memory_bytes`` is ``process.rss`` and ``process_cpu_seconds_total``
  (a counter, as a rate: 100% is one core) ``process.cpu``.
- ``target.process.cgroup``: a cgroup v2 directory (:mod:`.cgroup`).
- ``target.metrics``: any series of a Prometheus endpoint, each recorded as
  ``metric.<alias>``: a counter as its per-second rate, a gauge as its value.

Each is read once before the load (:func:`check_sources`: a RunError, exit 3, when it does
not answer or lacks a series), then every ``interval`` while the run goes
(:func:`run_sources`); a source that stops answering is noted, never fatal
(:mod:`.sampling`).
"""

from __future__ import annotations

import anyio
import httpx
from anyio.abc import TaskGroup

from sla_runner.engine.sources.sampling import Clock, sample
from sla_runner.engine.sources.scrape import Scrape, SourceError, scrape
from sla_runner.engine.sources.source import Source
from sla_runner.errors import RunError
from sla_runner.metrics.recorder import Recorder
from sla_runner.spec.parts import Target
from sla_runner.spec.series import SeriesSelector
from sla_runner.spec.suggest import did_you_mean

__all__ = ["Source", "check_sources", "remote_process", "run_sources", "sources_of"]

PROCESS_SERIES = {
    "process.rss": "process_resident_memory_bytes",
    "process.cpu": "process_cpu_seconds_total",
}


def remote_process(target: Target) -> bool:
    """Whether target.process is read from a Prometheus endpoint or a cgroup (not psutil)."""
    p = target.process
    return p is not None and (p.metrics_url is not None or p.cgroup is not None)


def sources_of(target: Target) -> list[Source]:
    """The sources a spec's target names (psutil's local process aside)."""
    out: list[Source] = []
    p = target.process
    if p is not None and p.metrics_url is not None:
        series = {m: SeriesSelector.parse(name) for m, name in PROCESS_SERIES.items()}
        out.append(Source("target.process.metrics_url", p.metrics_url, p.interval.seconds, series))
    if p is not None and p.cgroup is not None:
        out.append(Source("target.process.cgroup", p.cgroup, p.interval.seconds, memory=p.memory))
    m = target.metrics
    if m is not None:
        series = {f"metric.{alias}": s for alias, s in m.series.items()}
        out.append(Source("target.metrics", m.url, m.interval.seconds, series))
    return out


async def check_sources(target: Target) -> None:
    """Read every source once before the load: RunError (exit 3) naming the source and why
    when one does not answer, or naming the series it lacks."""
    sources = sources_of(target)
    if not sources:
        return
    async with httpx.AsyncClient(trust_env=False) as client:
        for source in sources:
            try:
                if not source.series:
                    await source.read(client)
                    continue
                found = await scrape(client, source.address, source.timeout_s)
            except SourceError as exc:
                raise RunError(f"{source.where}: cannot read {source.shown}: {exc}") from None
            _check_series(source, found)


def _check_series(source: Source, found: Scrape) -> None:
    present = source.pick(found)
    for metric, selector in source.series.items():
        if metric in present:
            continue
        names = found.names()
        where = (
            f"{source.where}.series.{metric.removeprefix('metric.')}"
            if metric.startswith("metric.")
            else f"{source.where} ({metric})"
        )
        known = selector.name in names or f"{selector.name}_total" in names
        why = (
            f"no sample of {selector.name} has the labels {selector.text}"
            if known
            else f"{selector.name} is not among the {len(names)} series it exposes"
            + did_you_mean(selector.name, names)
        )
        raise RunError(f"{where}: {source.shown} has no {selector.text}: {why}")


def run_sources(tg: TaskGroup, target: Target, recorder: Recorder, clock: Clock) -> None:
    """Start sampling every source in ``tg`` (cancelled when the run ends)."""
    sources = sources_of(target)
    if not sources:
        return

    async def run_all() -> None:
        async with httpx.AsyncClient(trust_env=False) as client, anyio.create_task_group() as inner:
            for source in sources:
                inner.start_soon(sample, source, client, recorder, clock)

    tg.start_soon(run_all)
