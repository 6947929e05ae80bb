"""The timeline per second and per metric, endpoint and channel: what the HTML report's
charts draw. Recorded by the real Recorder, merged, read back, and old recordings read."""

from __future__ import annotations

import json
import random

from sla_runner.judge.verdicts import judge
from sla_runner.metrics.histogram import (
    latency_histogram,
    value_at_percentile,
    values_at_percentiles,
)
from sla_runner.metrics.recorder import Recorder
from sla_runner.metrics.recording import Recording
from sla_runner.plan import Segment
from sla_runner.timeunits import NS_PER_MS, NS_PER_S
from tests.unit.verdict_data import close, make_spec, recorder, run_info


def test_many_percentiles_in_one_pass_equal_each_one_alone() -> None:
    rng = random.Random(5)
    hist = latency_histogram()
    for _ in range(997):
        hist.record_value(rng.randint(1, 3_000_000))
    wanted = (99.9, 50, 95, 0.1, 100, 99)
    assert values_at_percentiles(hist, wanted) == [value_at_percentile(hist, p) for p in wanted]
    assert values_at_percentiles(latency_histogram(), (50, 99)) == [0, 0]


def _one_second_of_traffic(rec: Recorder, second: int, slow_ms: int) -> None:
    t0 = second * NS_PER_S
    for i in range(20):
        start = t0 + i * 10 * NS_PER_MS
        rec.request("http", "list-items", "ok", 5 * NS_PER_MS, start, start + 5 * NS_PER_MS)
    for i in range(10):
        start = t0 + i * 20 * NS_PER_MS
        kind = "status_500" if i % 5 == 0 else "ok"
        rec.request(
            "http", "create-order", kind, slow_ms * NS_PER_MS, start, start + slow_ms * NS_PER_MS
        )
    rec.request("ws", "prices", "ok", 2 * NS_PER_MS, t0, t0 + 2 * NS_PER_MS)
    rec.request("ws", "prices", "timeout", None, t0, t0 + 3 * NS_PER_MS)


def test_each_second_holds_figures_per_metric_endpoint_and_channel() -> None:
    spec = make_spec(["p95(http) < 1s"])
    rec = recorder(spec)
    _one_second_of_traffic(rec, 0, slow_ms=40)
    _one_second_of_traffic(rec, 2, slow_ms=300)
    rows = close(rec).timeline
    first, quiet, third = rows[0], rows[1], rows[2]
    assert set(first.series) == {"http", "http.list-items", "http.create-order", "ws", "ws.prices"}
    assert quiet.series == {}  # nothing completed in that second
    order = third.series["http.create-order"]
    assert (order.count, order.errors) == (10, {"status_500": 2})
    assert order.p50_ms is not None
    assert 299 <= order.p50_ms <= 302
    assert third.series["http.list-items"].p99_ms is not None
    assert third.series["http.list-items"].p99_ms < 6
    http = third.series["http"]
    assert http.count == 30
    # The row's own HTTP figures, kept for readers of older verdicts, are the "http" series'.
    assert (third.p50_ms, third.p95_ms, third.p99_ms) == (http.p50_ms, http.p95_ms, http.p99_ms)
    prices = third.series["ws.prices"]
    assert (prices.count, prices.errors) == (2, {"timeout": 1})
    assert prices.p50_ms is not None
    assert 1.9 <= prices.p50_ms <= 2.1  # the one latency kept


def test_the_verdict_timeline_carries_the_series() -> None:
    spec = make_spec(["p95(http) < 1s"])
    rec = recorder(spec)
    _one_second_of_traffic(rec, 1, slow_ms=40)
    verdict = judge(spec, close(rec), run_info())
    row = verdict.timeline[1]
    assert row.series["http.create-order"].errors == {"status_500": 2}
    assert verdict.timeline[0].series == {}


def test_open_model_seconds_count_their_arrivals() -> None:
    spec = make_spec(
        ["p95(http) < 1s"], stages=[{"name": "steady", "duration": "2s", "rate": "10/s"}]
    )
    rec = recorder(spec)
    for i in range(7):
        rec.send_lateness(1000, NS_PER_S + i, late=i == 0)
    rec.dropped(NS_PER_S + 10)
    row = close(rec, elapsed_s=2).timeline[1]
    assert (row.arrivals, row.late, row.dropped) == (7, 1, 1)


def test_merged_seconds_add_counts_and_take_the_added_histograms_percentiles() -> None:
    spec = make_spec(["p95(http) < 1s"])
    halves = [recorder(spec, Segment(i, 2)) for i in (1, 2)]
    _one_second_of_traffic(halves[0], 0, slow_ms=40)
    _one_second_of_traffic(halves[1], 0, slow_ms=300)
    one, two = close(halves[0]), close(halves[1])
    order = one.merge(two).timeline[0].series["http.create-order"]
    assert (order.count, order.errors) == (20, {"status_500": 4})
    # 10 of 40 ms and 10 of 300 ms: the 10th is the median (the worse half's was 300)
    assert order.p50_ms is not None
    assert 39.9 <= order.p50_ms <= 40.1
    assert order.p95_ms is not None
    assert order.p95_ms >= 299
    assert one.timeline[0].series["http.create-order"].count == 10  # the inputs unchanged


def _spread(rec: Recorder, slow: int) -> None:
    """100 requests of 10 ms in second 1, ``slow`` of them taking 500 ms instead."""
    for i in range(100):
        latency = (500 if i < slow else 10) * NS_PER_MS
        start = NS_PER_S + i * 5 * NS_PER_MS
        rec.request("http", "list-items", "ok", latency, start, start + latency // 100)


def test_a_merged_seconds_p95_is_the_added_histograms_not_the_worse_of_the_two() -> None:
    """One part all fast, the other with 10 slow in 100 (its own p95: 500 ms): of the 200
    together 10 are slow, so the 190th — the p95 — is fast. The worse of the two said 500."""
    spec = make_spec(["p95(http) < 1s"])
    parts = [recorder(spec, Segment(i, 2)) for i in (1, 2)]
    whole = recorder(spec)
    _spread(parts[0], slow=0)
    _spread(parts[1], slow=10)
    _spread(whole, slow=0)
    _spread(whole, slow=10)
    fast, slow = close(parts[0]), close(parts[1])
    assert slow.timeline[1].p95_ms is not None
    assert slow.timeline[1].p95_ms >= 499  # the part's own
    merged = fast.merge(slow).timeline[1]
    exact = close(whole).timeline[1]
    assert merged.p95_ms is not None
    assert 9.9 <= merged.p95_ms <= 10.1
    assert merged.series["http.list-items"].p95_ms == merged.p95_ms
    assert merged.p99_ms is not None
    assert merged.p99_ms >= 499
    assert merged.to_dict() == exact.to_dict()  # as one process recording all of it
    # Parts without per-second histograms (a verdict that judged no window): the worse.
    bare = [Recording.from_dict(r.to_dict(seconds=False)) for r in (fast, slow)]
    worse = bare[0].merge(bare[1]).timeline[1]
    assert worse.p95_ms == slow.timeline[1].p95_ms
    assert worse.series["http.list-items"].p95_ms == slow.timeline[1].p95_ms


def test_series_round_trip_and_old_recordings_read_without_them() -> None:
    spec = make_spec(["p95(http) < 1s"])
    rec = recorder(spec)
    _one_second_of_traffic(rec, 0, slow_ms=40)
    recording = close(rec)
    data = json.loads(json.dumps(recording.to_dict()))
    assert Recording.from_dict(data).to_dict() == recording.to_dict()
    for row in data["timeline"]:  # as written before series and arrivals were kept
        del row["series"], row["arrivals"]
    old = Recording.from_dict(data)
    assert old.timeline[0].series == {}
    assert old.timeline[0].requests == 30
