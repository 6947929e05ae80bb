"""slope(...) of every gauge and the statistics of target.metrics series, judged on
recordings built sample by sample; the samples survive a round trip and a merge."""

from __future__ import annotations

from typing import Any

import pytest

from sla_runner.judge.verdicts import judge
from sla_runner.metrics.recorder import Recorder
from sla_runner.metrics.recording import Recording
from sla_runner.plan import build_plan
from sla_runner.spec.models import Spec
from sla_runner.timeunits import NS_PER_S
from sla_runner.verdict import ThresholdResult
from tests.unit.verdict_data import run_info

MIB = 2**20


def _spec(*thresholds: Any) -> Spec:
    return Spec.model_validate(
        {
            "version": 1,
            "name": "gauges",
            "sla_version": "1",
            "target": {
                "base_url": "http://127.0.0.1:9",
                "process": {"metrics_url": "http://127.0.0.1:9/metrics"},
                "metrics": {
                    "url": "http://127.0.0.1:9/metrics",
                    "series": {"queue": "jobs_queued", "temp": "temperature"},
                },
            },
            "endpoints": {"a": {"path": "/"}},
            "load": {
                "stages": [
                    {"name": "warm", "duration": "10s", "users": 1},
                    {"name": "steady", "duration": "10s", "users": 1},
                ]
            },
            "thresholds": list(thresholds),
        }
    )


def _judged(spec: Spec, fill: Any) -> list[ThresholdResult]:
    rec = Recorder(build_plan(spec))
    fill(rec)
    recording = rec.close(elapsed_ns=20 * NS_PER_S, started_at=1.0, finished_at=21.0, aborted=False)
    return judge(spec, recording, run_info()).thresholds


def _leak(rec: Recorder) -> None:
    """RSS flat at 100 MiB in warm, then growing 1 MiB/s in steady; CPU 10% then 30%."""
    for tenth in range(200):
        t = tenth * NS_PER_S // 10
        grown = max(tenth - 100, 0) / 10 * MIB
        rec.gauge("process.rss", 100 * MIB + grown, t)
        rec.gauge("process.cpu", 10.0 if tenth < 100 else 30.0, t)


def test_slope_of_the_rss_is_the_growth_per_second_over_its_window() -> None:
    spec = _spec(
        {"expr": "slope(process.rss) < 1MB/min", "during": "warm"},
        {"expr": "slope(process.rss) < 1MB/min", "during": "steady"},
        {"expr": "slope(process.rss) < 2MB/s", "during": "steady"},
    )
    warm, steady, limit = _judged(spec, _leak)
    assert (warm.status, warm.observed, warm.unit) == ("pass", 0.0, "B/s")
    assert steady.status == "fail"
    assert steady.observed == pytest.approx(MIB, rel=1e-9)
    assert steady.limit == pytest.approx(MIB / 60)
    assert "MB/s" in steady.message
    assert limit.status == "pass"


def test_slope_of_the_cpu_is_in_percent_per_second() -> None:
    (result,) = _judged(_spec("slope(process.cpu) < 1%/min"), _leak)
    assert result.unit == "%/s"
    assert result.status == "fail"  # 10% → 30% half way through 20 s: about 1.5%/s
    assert 1.0 < (result.observed or 0) < 2.0


def test_a_slope_needs_three_samples() -> None:
    def two(rec: Recorder) -> None:
        rec.gauge("process.rss", MIB, 0)
        rec.gauge("process.rss", 2 * MIB, NS_PER_S)

    (result,) = _judged(_spec("slope(process.rss) < 1MB/min"), two)
    assert result.status == "no_data"
    assert "a slope needs at least 3 samples, got 2" in result.message


def test_series_statistics_take_fractions_and_negatives_as_sampled() -> None:
    def temperatures(rec: Recorder) -> None:
        for i, value in enumerate([-2.5, 0.25, 1.5, 3.75, -0.5]):
            rec.gauge("metric.temp", value, i * NS_PER_S)
        for i in range(10):  # queue: 0..9 in steady only
            rec.gauge("metric.queue", float(i), (10 + i) * NS_PER_S)

    results = _judged(
        _spec(
            "min(metric.temp) < 1",
            "max(metric.temp) < 3.75",
            "mean(metric.temp) < 0.5",
            "p50(metric.temp) <= 0.25",
            "p90(metric.queue) < 9",
            {"expr": "max(metric.queue) < 1", "during": "warm"},
        ),
        temperatures,
    )
    observed = [(r.status, r.observed) for r in results]
    assert observed == [
        ("pass", -2.5),
        ("fail", 3.75),
        ("fail", 0.5),
        ("pass", 0.25),
        ("pass", 8.0),  # nearest rank: the 9th of 10
        ("no_data", None),
    ]
    assert "no samples of metric.queue: its series was never read" in results[-1].message


def test_samples_survive_a_round_trip_and_a_merge() -> None:
    spec = _spec()
    plan = build_plan(spec)
    parts = []
    for offset in (0, 1):
        rec = Recorder(plan)
        rec.gauge("metric.queue", 1.5 + offset, (2 + offset) * NS_PER_S)
        rec.gauge("process.rss", MIB, offset * NS_PER_S)
        parts.append(rec.close(elapsed_ns=NS_PER_S, started_at=1, finished_at=2, aborted=False))
    again = Recording.from_dict(parts[0].to_dict())
    assert (
        again.samples
        == parts[0].samples
        == {
            "metric.queue": [(2 * NS_PER_S, 1.5)],
            "process.rss": [(0, float(MIB))],
        }
    )
    merged = parts[1].merge(parts[0])
    assert merged.samples["metric.queue"] == [(2 * NS_PER_S, 1.5), (3 * NS_PER_S, 2.5)]
    old = parts[0].to_dict()
    del old["samples"]  # a recording written before samples were kept
    assert Recording.from_dict(old).samples == {}
