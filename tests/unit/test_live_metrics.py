"""The live /metrics of a run: what each closed second adds, as prometheus_client's own
exposition and parser see it."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from itertools import accumulate

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from sla_runner.engine.live import BUCKETS_S, LiveMetrics
from sla_runner.metrics.histogram import LATENCY_HIGHEST_US, latency_histogram
from sla_runner.metrics.recording import TimelineRow
from sla_runner.metrics.tap import Second, SeriesSecond
from sla_runner.report.stream import second_record


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


def _spread_second(rng: random.Random, series: int, high_us: int) -> Second:
    hists = {}
    for k in range(series):
        hist = latency_histogram()
        for _ in range(300):
            hist.record_value(rng.randint(200, high_us))
        hist.record_value(LATENCY_HIGHEST_US)  # one request that took its whole timeout
        hists[f"http.e{k}"] = SeriesSecond(Counter(ok=301), hist)
    row = TimelineRow(second=0, stage=0, users=3, requests=301 * series)
    return Second(row, "steady", 0.0, hists, {})


def test_the_buckets_and_sum_are_those_of_every_recorded_value() -> None:
    """Each value counts in the first bucket whose bound is at or above it (Prometheus'
    ``le``), taken as the highest value its HDR bucket holds, values on a bound included."""
    rng = random.Random(7)
    second = _spread_second(rng, 3, 3_000_000)
    for s in second.series.values():
        for bound in BUCKETS_S:
            s.latency_us.record_value(round(bound * 1_000_000))
    expected = {}
    for name, s in second.series.items():
        counts, sum_s = [0] * (len(BUCKETS_S) + 1), 0.0
        for item in s.latency_us.get_recorded_iterator():
            us, n = item.value_iterated_to, item.count_at_value_iterated_to
            counts[sum(1 for b in BUCKETS_S if b * 1_000_000 < us)] += n
            sum_s += us * n / 1_000_000
        expected[name] = (list(accumulate(counts)), sum_s)
    live = LiveMetrics()
    live.second(second)
    got = _scraped(live)["sla_runner_latency_seconds"]
    for name, (cumulative, sum_s) in expected.items():
        scope = name.partition(".")[2]
        mine = [s for s in got if s[1].get("scope") == scope]
        assert [s[2] for s in mine if s[0].endswith("_bucket")] == cumulative
        (total,) = [s[2] for s in mine if s[0].endswith("_sum")]
        assert total == pytest.approx(sum_s, rel=1e-9)


def test_a_second_costs_the_run_loop_about_what_the_ndjson_line_does() -> None:
    """``second`` runs on the run's event loop: walking each histogram value by value in
    Python (hdrh's recorded iterator) held it 70-190 ms a second for four endpoints, and made
    every run with ``--metrics-port`` invalid for loop lag (some 100 times the NDJSON
    stream's line for the same second). Its cost is now of the order of that line's (the
    best of several tries: a ratio a busy machine keeps)."""
    second = _spread_second(random.Random(3), 4, 50_000)
    live = LiveMetrics()

    def cost(work: Callable[[], object]) -> float:
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            work()
            best = min(best, time.perf_counter() - started)
        return best

    assert cost(lambda: live.second(second)) < 5 * cost(lambda: second_record(second))
