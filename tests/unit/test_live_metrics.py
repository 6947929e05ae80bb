"""The live /metrics of a run: what each closed second adds, as prometheus_client's own
exposition and parser see it."""

from __future__ import annotations

from collections import Counter

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from sla_runner.engine.live import LiveMetrics
from sla_runner.metrics.histogram import latency_histogram
from sla_runner.metrics.recording import TimelineRow
from sla_runner.metrics.tap import Second, SeriesSecond


def _second(n: int, latencies_us: list[int], outcomes: dict[str, int], queue: float) -> Second:
    hist = latency_histogram()
    for us in latencies_us:
        hist.record_value(us)
    row = TimelineRow(second=n, stage=0, users=3, requests=sum(outcomes.values()), dropped=1)
    series = {"http.list-items": SeriesSecond(Counter(outcomes), hist)}
    return Second(row, "steady", 0.0, series, {"metric.queue": queue, "process.rss": 5.0})


def _scraped(live: LiveMetrics) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(live)
    text = generate_latest(registry).decode()
    return {
        f.name: [(s.name, s.labels, s.value) for s in f.samples]
        for f in text_string_to_metric_families(text)
    }


def test_counters_and_the_latency_histogram_add_up_over_seconds() -> None:
    live = LiveMetrics()
    live.second(_second(0, [500, 3_000, 70_000], {"ok": 2, "status_503": 1}, 4.0))
    live.second(_second(1, [800], {"ok": 1}, 9.5))
    got = _scraped(live)
    assert got["sla_runner_operations"] == [
        ("sla_runner_operations_total", {"metric": "http", "scope": "list-items", "outcome": o}, n)
        for o, n in (("ok", 3.0), ("status_503", 1.0))
    ]
    buckets = {
        s[1]["le"]: s[2] for s in got["sla_runner_latency_seconds"] if s[0].endswith("_bucket")
    }
    assert (buckets["0.001"], buckets["0.005"], buckets["0.1"], buckets["+Inf"]) == (2, 3, 4, 4)
    (total,) = [s[2] for s in got["sla_runner_latency_seconds"] if s[0].endswith("_sum")]
    assert abs(total - 0.0743) < 0.0001
    assert got["sla_runner_users"] == [("sla_runner_users", {}, 3.0)]
    assert got["sla_runner_elapsed_seconds"] == [("sla_runner_elapsed_seconds", {}, 2.0)]
    assert got["sla_runner_dropped"] == [("sla_runner_dropped_total", {}, 2.0)]
    assert got["sla_runner_series"] == [("sla_runner_series", {"alias": "queue"}, 9.5)]
    assert got["sla_runner_stage_info"] == [("sla_runner_stage_info", {"stage": "steady"}, 1.0)]


def test_before_the_first_second_there_is_nothing_but_zeros() -> None:
    got = _scraped(LiveMetrics())
    assert got["sla_runner_operations"] == []
    assert got["sla_runner_users"] == [("sla_runner_users", {}, 0.0)]
