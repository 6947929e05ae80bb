"""``--metrics-port``: the run's live figures at ``/metrics`` in the Prometheus text format
(and OpenMetrics, when the scraper asks for it), so a team's own Prometheus and Grafana can
watch a long run.

Served by ``prometheus_client``'s own HTTP server, in its thread, from a registry of this
run only; updated once a second, as each second of the run closes:

- ``sla_runner_operations_total{metric, scope, outcome}``: requests, WebSocket round
  trips and connects completed, by endpoint or channel and outcome (``ok``, ``status_503``…)
- ``sla_runner_latency_seconds{metric, scope}``: their latency, as a histogram
- ``sla_runner_users``, ``sla_runner_elapsed_seconds``, ``sla_runner_stage_info{stage}``
- ``sla_runner_dropped_total``, ``sla_runner_late_total``: open-model arrivals
- ``sla_runner_service_rss_bytes``, ``sla_runner_service_cpu_percent``: the service, when sampled
- ``sla_runner_series{alias}``: each ``target.metrics`` series' last value (a counter's rate)
"""

from __future__ import annotations

import bisect
import operator
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from wsgiref.simple_server import WSGIServer

from hdrh.histogram import HdrHistogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import start_http_server
from prometheus_client.registry import Collector, CollectorRegistry

from sla_runner.engine.preflight import reason
from sla_runner.errors import RunError
from sla_runner.metrics.histogram import histogram_low, latency_histogram
from sla_runner.metrics.tap import Second

# Latency bucket bounds (seconds), Prometheus' defaults widened to the 60 s a request may take.
BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0)
_BUCKETS_US = [round(b * 1_000_000) for b in BUCKETS_S]


@dataclass
class _Latency:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS_S) + 1))
    sum_s: float = 0.0


@dataclass(frozen=True)
class _Snapshot:
    operations: tuple[tuple[str, str, str, int], ...] = ()
    latency: tuple[tuple[str, str, tuple[int, ...], float], ...] = ()
    users: int = 0
    elapsed_s: float = 0.0
    stage: str = ""
    dropped: int = 0
    late: int = 0
    rss_bytes: int | None = None
    cpu_pct: float | None = None
    series: tuple[tuple[str, float], ...] = ()  # target.metrics: alias, last value


def _bucket_values(like: HdrHistogram) -> tuple[int, ...]:
    """The value each count of histograms shaped ``like`` stands for (the highest its HDR
    bucket holds, as hdrh's recorded iterator gives it), by counts index: rising. Some
    17,000 values for the latency range, taken once per run (~20 ms), before the load."""
    return tuple(
        like.get_highest_equivalent_value(like.get_value_from_index(i))
        for i in range(like.counts_len)
    )


def _add_bucketed(into: _Latency, histogram: HdrHistogram, values_us: tuple[int, ...]) -> None:
    """Add ``histogram`` to ``into``: each value in the first bucket whose bound is at or
    above it, and to the sum. Slices and running sums in C: walking the histogram value by
    value in Python (hdrh's iterators) held the run's loop for tens of milliseconds each
    second."""
    if not histogram.get_total_count():
        return
    low = histogram.get_counts_array_index(histogram_low(histogram))
    high = histogram.get_counts_array_index(int(histogram.get_max_value()))
    counts = histogram.counts[low : high + 1]
    values = values_us[low : high + 1]
    running = [0, *accumulate(counts)]
    below = 0
    for i, bound in enumerate(_BUCKETS_US):
        upto = running[bisect.bisect_right(values, bound)]
        into.counts[i] += upto - below
        below = upto
    into.counts[-1] += running[-1] - below
    into.sum_s += sum(map(operator.mul, counts, values)) / 1_000_000


class LiveMetrics(Collector):
    """A second sink and a Prometheus collector: ``second`` (the run's event loop) builds a
    snapshot, ``collect`` (the server's thread) reads the latest one."""

    def __init__(self) -> None:
        self._operations: Counter[tuple[str, str, str]] = Counter()
        self._latency: dict[tuple[str, str], _Latency] = {}
        self._dropped = self._late = 0
        self._series: dict[str, float] = {}
        self._snapshot = _Snapshot()
        self._values_us = _bucket_values(latency_histogram())  # built before the load

    def second(self, second: Second) -> None:
        for name, s in second.series.items():
            metric, _, scope = name.partition(".")
            for outcome, n in s.outcomes.items():
                self._operations[(metric, scope, outcome)] += n
            latency = self._latency.setdefault((metric, scope), _Latency())
            _add_bucketed(latency, s.latency_us, self._values_us)
        for name, value in second.gauges.items():
            if name.startswith("metric."):
                self._series[name.removeprefix("metric.")] = value
        row = second.row
        self._dropped += row.dropped
        self._late += row.late
        self._snapshot = _Snapshot(  # one reference swapped: collect sees this or the last
            operations=tuple((m, sc, o, n) for (m, sc, o), n in sorted(self._operations.items())),
            latency=tuple(
                (m, sc, tuple(lat.counts), lat.sum_s)
                for (m, sc), lat in sorted(self._latency.items())
            ),
            users=row.users,
            elapsed_s=float(row.second + 1),
            stage=second.stage,
            dropped=self._dropped,
            late=self._late,
            rss_bytes=row.rss_bytes,
            cpu_pct=row.cpu_pct,
            series=tuple(sorted(self._series.items())),
        )

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot
        ops = CounterMetricFamily(
            "sla_runner_operations",
            "requests, WebSocket round trips and connects completed, by outcome",
            labels=["metric", "scope", "outcome"],
        )
        for metric, scope, outcome, n in snap.operations:
            ops.add_metric([metric, scope, outcome], n)
        yield ops
        latency = HistogramMetricFamily(
            "sla_runner_latency_seconds",
            "latency of the operations that got an answer",
            labels=["metric", "scope"],
        )
        for metric, scope, counts, sum_s in snap.latency:
            running, buckets = 0, []
            for bound, n in zip([*map(str, BUCKETS_S), "+Inf"], counts, strict=True):
                running += n
                buckets.append((bound, float(running)))
            latency.add_metric([metric, scope], buckets, sum_s)
        yield latency
        yield GaugeMetricFamily("sla_runner_users", "virtual users held", value=snap.users)
        yield GaugeMetricFamily(
            "sla_runner_elapsed_seconds", "seconds of the run completed", value=snap.elapsed_s
        )
        stage = GaugeMetricFamily("sla_runner_stage_info", "the stage under way", labels=["stage"])
        if snap.stage:
            stage.add_metric([snap.stage], 1)
        yield stage
        yield CounterMetricFamily(
            "sla_runner_dropped", "open-model arrivals not started", value=snap.dropped
        )
        yield CounterMetricFamily(
            "sla_runner_late", "open-model arrivals started late", value=snap.late
        )
        if snap.rss_bytes is not None:
            yield GaugeMetricFamily(
                "sla_runner_service_rss_bytes", "the service's memory", value=snap.rss_bytes
            )
        series = GaugeMetricFamily(
            "sla_runner_series",
            "target.metrics: each series' last value (a counter's per-second rate)",
            labels=["alias"],
        )
        for alias, value in snap.series:
            series.add_metric([alias], value)
        yield series
        if snap.cpu_pct is not None:
            yield GaugeMetricFamily(
                "sla_runner_service_cpu_percent",
                "the service's CPU (100 = one core)",
                value=snap.cpu_pct,
            )


class LiveServer:
    """``/metrics`` on ``host:port`` while the run goes; ``close`` stops it."""

    def __init__(self, port: int, host: str = "0.0.0.0") -> None:
        self.metrics = LiveMetrics()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.metrics)
        try:
            self._server, self._thread = start_http_server(port, addr=host, registry=registry)
        except OSError as exc:
            raise RunError(f"--metrics-port {host}:{port}: cannot listen: {reason(exc)}") from None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        server: WSGIServer = self._server
        threading.Thread(target=server.shutdown).start()
        self._thread.join(timeout=5)
        server.server_close()
