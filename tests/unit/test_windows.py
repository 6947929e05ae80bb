"""Thresholds over windows (``window``, ``for``, ``warmup``) on synthetic recordings made by
the real Recorder: each window or second is judged from its own histograms added exactly, a
merge adds second k to second k, and the verdict, JUnit and console say which window."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sla_runner.judge.verdicts import judge
from sla_runner.metrics.histogram import latency_histogram, value_at_percentile
from sla_runner.metrics.recorder import Recorder
from sla_runner.metrics.recording import Recording
from sla_runner.plan import Segment, build_plan
from sla_runner.spec.format2 import Spec
from sla_runner.timeunits import NS_PER_MS, NS_PER_S, NS_PER_US
from sla_runner.verdict import ThresholdResult, Verdict
from tests.unit.verdict_data import STARTED_AT, run_info

SECONDS = 20

# Latency (µs) of each request completed in second s; ``None`` entries are failures.
Profile = Callable[[int], list[int | None]]


def spec(thresholds: list[Any], *, two: bool = False, warmup: str | None = None) -> Spec:
    steady: dict[str, Any] = {"name": "steady", "duration": f"{SECONDS - 5}s", "users": 4}
    if warmup is not None:
        steady["warmup"] = warmup
    scenarios: dict[str, Any] = {
        "api": {
            "load": {"stages": [{"name": "warm", "duration": "5s", "users": 4}, steady]},
            "mix": {"a": 1, "b": 1},
        }
    }
    if two:
        scenarios["batch"] = {
            "load": {"stages": [{"name": "run", "duration": f"{SECONDS}s", "users": 1}]},
            "mix": {"a": 1},
        }
    return Spec.model_validate(
        {
            "version": 2,
            "name": "windows",
            "sla_version": "1.0.0",
            "target": {"base_url": "http://127.0.0.1:8000"},
            "endpoints": {"a": {"path": "/a"}, "b": {"path": "/b"}},
            "scenarios": scenarios,
            "thresholds": thresholds,
        }
    )


def recording(
    s: Spec, profile: Profile, segment: Segment | None = None, *, scenario: int = 0
) -> Recording:
    """Each second's requests (alternating a and b) as ``profile`` gives them; a
    ``segment`` records every N-th of them."""
    segment = segment or Segment()
    rec = Recorder(build_plan(s, segment))
    sink = rec.scenario(scenario)
    n = 0
    for second in range(SECONDS):
        values = profile(second)
        for i, us in enumerate(values):
            n += 1
            if (n - 1) % segment.count != segment.index - 1:
                continue
            end = second * NS_PER_S + (i + 1) * (NS_PER_S // (len(values) + 1))
            latency = None if us is None else us * NS_PER_US
            start = end - (latency or NS_PER_MS)
            key = "ok" if us is not None else "status_500"
            sink.request("http", "a" if i % 2 else "b", key, latency, start, end)
    return rec.close(
        elapsed_ns=SECONDS * NS_PER_S,
        started_at=STARTED_AT,
        finished_at=STARTED_AT + SECONDS,
        aborted=False,
    )


def episode(slow: range, *, fast: int = 50, slow_n: int = 2) -> Profile:
    """50 requests of 10 ms a second; in the ``slow`` seconds, 2 of 500 ms."""

    def profile(second: int) -> list[int | None]:
        if second in slow:
            return [500_000] * slow_n
        return [10_000 + 7 * i for i in range(fast)]

    return profile


def verdict_of(thresholds: list[Any], profile: Profile, warmup: str | None = None) -> Verdict:
    s = spec(thresholds, warmup=warmup)
    return judge(s, recording(s, profile), run_info())


def by_id(verdict: Verdict) -> dict[str, ThresholdResult]:
    return {t.id: t for t in verdict.thresholds}


def test_a_window_fails_on_a_slow_episode_the_whole_run_p95_passes() -> None:
    v = verdict_of(
        ["p95(http) < 200ms", {"expr": "p95(http) < 200ms", "window": "5s"}],
        episode(range(5, 10)),
    )
    whole, windowed = v.thresholds
    assert whole.status == "pass"
    assert whole.observed is not None
    assert whole.observed < 11
    assert windowed.status == "fail"
    assert windowed.id == "p95(http) < 200ms (window 5s)"
    assert windowed.window == "5s"
    assert [(w.start_s, w.end_s, w.passed) for w in windowed.windows] == [
        (0, 5, True),
        (5, 10, False),
        (10, 15, True),
        (15, 20, True),
    ]
    assert windowed.observed == pytest.approx(500, rel=1e-3)
    assert windowed.message.startswith("window 00:05–00:10: p95(http) = 500")
    assert "1 of 4 windows of 5s missed" in windowed.message
    assert v.status == "fail"


def test_a_window_is_judged_from_its_seconds_histograms_added_exactly() -> None:
    """Not a percentile of percentiles: the window's p95 is the p95 of its samples."""

    def profile(second: int) -> list[int | None]:
        # second 4: 20 slow (p95 of its own = 900 ms); seconds 5..9: 100 fast each
        if second == 4:
            return [900_000 + i for i in range(20)]
        return [1_000 + 13 * i + 1_000 * second for i in range(100)]

    v = verdict_of([{"expr": "p95(http) < 2s", "window": "5s"}], profile)
    first = v.thresholds[0].windows[0]
    expected = latency_histogram()
    for second in range(5):
        for us in profile(second):
            assert us is not None
            expected.record_value(us)
    exact = value_at_percentile(expected, 95) / 1000
    assert first.observed == exact
    # a p95 of the seconds' p95s would be the 900 ms second's or far above this
    assert exact < 900


def test_a_window_as_long_as_the_run_judges_as_the_whole_run_does() -> None:
    v = verdict_of(
        [
            "p99(http.a) < 1s",
            {"expr": "p99(http.a) < 1s", "window": f"{SECONDS}s"},
            "success_rate(http) > 50%",
            {"expr": "success_rate(http) > 50%", "window": f"{SECONDS}s"},
            "rate(http) > 1/s",
            {"expr": "rate(http) > 1/s", "window": f"{SECONDS}s"},
        ],
        lambda s: [10_000 + 31 * i * s for i in range(40)] + [None] * (s % 3),
    )
    for plain, windowed in zip(v.thresholds[::2], v.thresholds[1::2], strict=True):
        assert (windowed.observed, windowed.samples) == (plain.observed, plain.samples)


def test_for_passes_a_short_spike_and_fails_a_sustained_breach() -> None:
    rule = {"expr": "p95(http) < 200ms", "for": "10s"}
    spike = verdict_of(["p95(http) < 200ms", rule], episode(range(6, 8), slow_n=50))
    plain, sustained = spike.thresholds
    assert plain.status == "fail"  # 100 of 1,000 samples at 500 ms
    assert sustained.status == "pass"
    assert sustained.id == "p95(http) < 200ms (for 10s)"
    assert [(w.start_s, w.end_s, w.passed) for w in sustained.windows] == [(6, 8, True)]
    assert sustained.observed is not None
    assert sustained.observed < 200
    assert "longest breach 2s in a row, 00:06–00:08" in sustained.message

    long = verdict_of([rule], episode(range(3, 18), slow_n=50)).thresholds[0]
    assert long.status == "fail"
    assert [(w.start_s, w.end_s, w.passed) for w in long.windows] == [(3, 18, False)]
    assert long.observed == pytest.approx(500, rel=1e-3)
    assert "missed 15s in a row, 00:03–00:18" in long.message


def test_for_reads_a_second_with_no_samples_as_neither_breach_nor_relief() -> None:
    """A stalled service completes nothing for seconds: that must not reset the stretch."""

    def stall(second: int) -> list[int | None]:
        if second in (4, 15):
            return [5_000_000] * 4
        if 4 < second < 15:
            return []
        return [10_000] * 20

    t = verdict_of([{"expr": "p95(http) < 200ms", "for": "10s"}], stall).thresholds[0]
    assert t.status == "fail"
    assert [(w.start_s, w.end_s) for w in t.windows] == [(4, 16)]


def test_for_on_a_lower_bound_judges_each_seconds_own_success_rate() -> None:
    def failing(second: int) -> list[int | None]:
        return [10_000] * 10 + ([None] * 10 if 5 <= second < 16 else [])

    t = verdict_of([{"expr": "success_rate(http) > 90%", "for": "10s"}], failing).thresholds[0]
    assert t.status == "fail"
    assert t.observed == 50
    assert [(w.start_s, w.end_s, w.observed) for w in t.windows] == [(5, 16, 50)]


def test_warmup_leaves_the_first_seconds_out() -> None:
    cold = episode(range(3), slow_n=50)
    v = verdict_of(
        [
            "p95(http) < 200ms",
            {"expr": "p95(http) < 200ms", "warmup": "3s"},
            {"expr": "p95(http) < 200ms", "window": "5s", "warmup": "4s"},
        ],
        cold,
    )
    plain, warm, windows = v.thresholds
    assert plain.status == "fail"
    assert warm.status == "pass"
    assert warm.id == "p95(http) < 200ms (warmup 3s)"
    assert warm.samples == 50 * (SECONDS - 3)
    assert "after a 3s warmup" in warm.message
    assert [(w.start_s, w.end_s) for w in windows.windows] == [(4, 9), (9, 14), (14, 19), (19, 20)]


def test_a_window_with_no_samples_is_no_data_never_a_pass() -> None:
    def gap(second: int) -> list[int | None]:
        return [] if 10 <= second < 15 else [10_000] * 10

    t = verdict_of([{"expr": "p95(http) < 200ms", "window": "5s"}], gap).thresholds[0]
    assert t.status == "no_data"
    assert t.message.startswith("window 00:10–00:15: no samples")


def test_a_window_over_a_stage_judges_that_stage_only() -> None:
    v = verdict_of(
        [{"expr": "p95(http) < 200ms", "window": "5s", "during": "steady"}],
        episode(range(2, 4)),
    )
    t = v.thresholds[0]
    assert t.status == "pass"
    assert [w.start_s for w in t.windows] == [5, 10, 15]
    assert t.id == "p95(http) < 200ms (during steady, window 5s)"


def test_a_scenarios_windows_hold_its_own_traffic() -> None:
    s = spec(
        [
            {"expr": "p95(http) < 200ms", "window": "5s", "scenario": "api"},
            {"expr": "p95(http) < 200ms", "window": "5s", "scenario": "batch"},
        ],
        two=True,
    )
    slow_batch = recording(s, episode(range(SECONDS), fast=0), scenario=1)
    fast_api = recording(s, episode(range(0)))
    v = judge(s, fast_api.merge(slow_batch), run_info())
    api, batch = v.thresholds
    assert (api.status, batch.status) == ("pass", "fail")
    assert api.samples == 50 * SECONDS
    assert batch.samples == 2 * SECONDS


def test_a_merge_adds_second_k_to_second_k_exactly() -> None:
    s = spec(
        [{"expr": "p99(http) < 200ms", "window": "5s"}, {"expr": "p99(http) < 200ms", "for": "3s"}]
    )
    profile = episode(range(7, 11), slow_n=9)
    whole = recording(s, profile)
    parts = [recording(s, profile, Segment(i, 3)) for i in (1, 2, 3)]
    merged = parts[0].merge(parts[1]).merge(parts[2])
    for key, series in whole.seconds.series.items():
        other = merged.seconds.series[key]
        assert (series.first, list(series.count), list(series.ok)) == (
            other.first,
            list(other.count),
            list(other.ok),
        )
    one = judge(s, whole, run_info())
    three = judge(s, merged, run_info())
    for a, b in zip(one.thresholds, three.thresholds, strict=True):
        assert (a.observed, a.samples, a.windows) == (b.observed, b.samples, b.windows)


def test_a_stage_warmup_is_left_out_of_every_threshold_over_requests_that_judges_it() -> None:
    """steady (5 s to 20 s) starts cold: its first 3 s are slow; its warmup leaves them out
    of the thresholds over steady, over the scenario and over the run alike."""
    rules = [
        {"expr": "p95(http) < 200ms", "during": "steady"},
        "p95(http) < 200ms",
        {"expr": "p95(http) < 200ms", "window": "5s"},
        {"expr": "p95(http) < 200ms", "for": "2s"},
        {"expr": "count(http) > 0", "during": "steady"},
    ]
    cold = episode(range(5, 8), slow_n=50)
    without = verdict_of(rules, cold)
    assert [t.status for t in without.thresholds] == ["fail", "fail", "fail", "fail", "pass"]
    v = verdict_of(rules, cold, warmup="3s")
    during, whole, window, sustained, count = v.thresholds
    assert [during.status, whole.status, window.status, sustained.status] == ["pass"] * 4
    assert during.samples == 50 * (SECONDS - 8)
    assert whole.samples == 50 * (SECONDS - 3)
    assert count.observed == 50 * (SECONDS - 8)
    assert during.message.endswith(
        "during steady; left out: the first 3s of stage 'steady' (its warmup)"
    )
    assert during.windows == []  # one span: not a threshold over windows
    # the window holding only warmup seconds and others: judged on the others
    assert [(w.start_s, w.samples) for w in window.windows] == [
        (0, 250),
        (5, 100),
        (10, 250),
        (15, 250),
    ]
    assert v.recording is not None
    assert v.recording["stage_warmups_ns"] == [0, 3 * NS_PER_S]
    assert v.recording["seconds"]


def test_a_for_stretch_does_not_run_across_a_stage_warmup() -> None:
    def slow(second: int) -> list[int | None]:
        return [500_000] * 5 if 2 <= second < 5 or 8 <= second < 11 else [10_000] * 20

    rule = {"expr": "p95(http) < 200ms", "for": "5s"}
    assert verdict_of([rule], slow, warmup="3s").thresholds[0].status == "pass"
    assert verdict_of([rule], slow).thresholds[0].status == "pass"

    def through(second: int) -> list[int | None]:
        return [500_000] * 5 if 2 <= second < 11 else [10_000] * 20

    assert verdict_of([rule], through).thresholds[0].status == "fail"
    t = verdict_of([rule], through, warmup="3s").thresholds[0]
    assert t.status == "pass"
    assert [(w.start_s, w.end_s) for w in t.windows] == [(2, 5), (8, 11)]
