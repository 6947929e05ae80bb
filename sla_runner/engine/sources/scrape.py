"""One scrape of a Prometheus endpoint, read by ``prometheus_client``'s own parsers.

The text exposition format (``text/plain; version=0.0.4``) and OpenMetrics
(``application/openmetrics-text``) are told apart by the answer's content type, as
Prometheus does. A :class:`~sla_runner.spec.series.SeriesSelector` picks samples by name
and labels; several samples that match are summed (PromQL's ``sum``). A sample is a
counter when its family says so (``counter``, or a histogram's or summary's ``_count``,
``_sum`` and ``_bucket``): the sampler turns counters into per-second rates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import anyio.to_thread
import httpx
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families as text_families

from sla_runner.engine.http.outcome import closed_as_it_opened
from sla_runner.engine.preflight import reason
from sla_runner.spec.series import SeriesSelector

ACCEPT = "text/plain;version=0.0.4;q=0.9, application/openmetrics-text;version=1.0.0;q=0.5"
MAX_SCRAPE_BYTES = 16 * 1024 * 1024
_COUNTING_SUFFIXES = ("_count", "_sum", "_bucket")


class SourceError(Exception):
    """A source did not answer, or answered with something that cannot be read: the
    message is the reason, a phrase (``connection refused``, ``HTTP 503``)."""


@dataclass(frozen=True)
class Reading:
    """A series' value in one scrape; a counter's is its running total."""

    value: float
    counter: bool


@dataclass(frozen=True)
class Scrape:
    """The samples of one scrape: (name, labels, value, counter)."""

    samples: tuple[tuple[str, dict[str, str], float, bool], ...]

    def pick(self, selector: SeriesSelector) -> Reading | None:
        """The selector's value (the sum of the samples it matches), or None if none does.

        A counter may be named as its family (``jobs_processed`` for
        ``jobs_processed_total``), as its ``# TYPE`` line names it."""
        found = [(v, c) for n, labels, v, c in self.samples if selector.matches(n, labels)]
        if not found:
            total = replace(selector, name=selector.name + "_total")
            found = [(v, c) for n, labels, v, c in self.samples if c and total.matches(n, labels)]
        if not found:
            return None
        return Reading(sum(v for v, _ in found), any(c for _, c in found))

    def names(self) -> list[str]:
        return sorted({name for name, *_ in self.samples})


def _why(exc: BaseException) -> str:
    """The operating system's reason under httpx's and httpcore's wrappers, when there is one."""
    seen: BaseException | None = exc
    found: OSError | None = None
    while seen is not None:
        if isinstance(seen, OSError):
            found = seen
            if seen.errno:  # anyio's "all connection attempts failed" carries none
                break
        seen = seen.__cause__ or seen.__context__
    return reason(found) if found is not None else str(exc) or type(exc).__name__


def parse(text: str, content_type: str) -> Scrape:
    """The samples of an exposition; ValueError when it cannot be read."""
    media_type = content_type.partition(";")[0].strip().lower()
    openmetrics = media_type == "application/openmetrics-text"
    families: Iterable[Metric] = (openmetrics_families if openmetrics else text_families)(text)
    samples = []
    for family in families:  # the parsers are lazy: errors surface while iterating
        for s in family.samples:
            counter = family.type == "counter" and not s.name.endswith("_created")
            if family.type in ("histogram", "summary"):
                counter = s.name.endswith(_COUNTING_SUFFIXES)
            samples.append((s.name, dict(s.labels), float(s.value), counter))
    return Scrape(tuple(samples))


async def scrape(client: httpx.AsyncClient, url: str, timeout_s: float) -> Scrape:
    """GET ``url`` and parse it; SourceError with the reason when that fails."""
    try:
        response = await client.get(url, headers={"Accept": ACCEPT}, timeout=timeout_s)
    except httpx.TimeoutException:
        raise SourceError(f"timed out (no answer within {timeout_s:g}s)") from None
    except httpx.HTTPError as exc:
        raise SourceError(_why(exc)) from None
    except OSError as exc:
        raise SourceError(reason(exc)) from None
    except AttributeError as exc:
        if not closed_as_it_opened(exc):
            raise
        raise SourceError("connection reset by peer") from None
    if response.status_code != 200:
        raise SourceError(f"HTTP {response.status_code}")
    if len(response.content) > MAX_SCRAPE_BYTES:
        raise SourceError(f"the answer is over {MAX_SCRAPE_BYTES // 2**20} MiB")
    content_type = response.headers.get("content-type", "text/plain")
    try:
        # Pure Python, some 20 us a line: tens of milliseconds for a real service's
        # exposition, every interval. Beside the run's event loop, not on it.
        return await anyio.to_thread.run_sync(parse, response.text, content_type)
    except ValueError as exc:
        raise SourceError(f"not the Prometheus exposition format: {exc}") from None
