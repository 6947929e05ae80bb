"""``run --workers``: how many workers ``auto`` means, and one live line from N workers."""

from __future__ import annotations

import os

import pytest

from sla_runner.engine.poolparts import LiveCombiner, combine, parse_workers, usable_cores
from sla_runner.engine.worker import keeps_seconds
from sla_runner.errors import UsageError
from sla_runner.metrics.recorder import LiveStats
from sla_runner.plan import build_plan
from sla_runner.spec.format2 import Spec


def _stats(second: float, users: int, rps: float, p95: float | None, done: int) -> LiveStats:
    return LiveStats(second, "steady", users, rps, rps / 2, p95, done, done // 10)


def test_auto_is_the_cores_this_process_may_use() -> None:
    assert usable_cores() == len(os.sched_getaffinity(0))
    assert parse_workers("auto") == usable_cores()
    assert parse_workers(" 3 ") == 3


@pytest.mark.parametrize("text", ["0", "-2", "two", "1.5", ""])
def test_workers_must_be_a_whole_number_or_auto(text: str) -> None:
    with pytest.raises(UsageError, match="--workers expects a whole number of 1 or more"):
        parse_workers(text)


def test_the_figures_of_one_second_add_up_and_the_p95_is_the_worst() -> None:
    whole = combine(
        [_stats(3.0, 5, 100, 4.0, 300), _stats(3.01, 6, 120, 9.5, 350)],
        gone=[_stats(2.0, 4, 80, 1.0, 160)],
    )
    assert whole == LiveStats(3.01, "steady", 11, 220, 110, 9.5, 810, 81)
    assert combine([_stats(1, 1, 0, None, 0), _stats(1, 1, 0, None, 0)]).p95_ms is None


def test_one_line_once_every_running_worker_has_reported_that_second() -> None:
    shown: list[LiveStats] = []
    live = LiveCombiner([1, 2], shown.append)
    live.add(1, _stats(1, 2, 10, 1.0, 10))
    assert shown == []  # worker 2 has not reported its first second yet
    live.add(1, _stats(2, 2, 10, 1.0, 20))
    live.add(2, _stats(1, 3, 30, 2.0, 30))
    assert [(s.elapsed_s, s.users, s.done) for s in shown] == [(1, 5, 40)]
    live.add(2, _stats(2, 3, 30, 2.0, 60))
    live.add(2, _stats(3, 3, 30, 2.0, 90))
    assert [(s.elapsed_s, s.done) for s in shown] == [(1, 40), (2, 80)]
    # Worker 1 dies: worker 2 goes on alone; what worker 1 had done still counts.
    live.drop(1)
    assert [(s.elapsed_s, s.users, s.done) for s in shown][2:] == [(3, 3, 110)]
    live.add(1, _stats(3, 2, 10, 1.0, 30))  # a late report of a worker gone: ignored
    assert len(shown) == 3


def _spec(threshold: object, warmup: str | None = None) -> Spec:
    stage: dict[str, object] = {"name": "steady", "duration": "10s", "users": 2}
    if warmup is not None:
        stage["warmup"] = warmup
    return Spec.model_validate(
        {
            "version": 2,
            "name": "seconds",
            "sla_version": "1",
            "target": {"base_url": "http://127.0.0.1:8000"},
            "endpoints": {"a": {"path": "/a"}},
            "scenarios": {"s": {"load": {"stages": [stage]}, "mix": {"a": 1}}},
            "thresholds": [threshold],
        }
    )


@pytest.mark.parametrize(
    ("threshold", "warmup", "kept"),
    [
        ("p95(http) < 1s", None, False),
        ({"expr": "p95(http) < 1s", "window": "5s"}, None, True),
        ({"expr": "p95(http) < 1s", "for": "3s"}, None, True),
        ({"expr": "p95(http) < 1s", "warmup": "2s"}, None, True),
        ("p95(http) < 1s", "2s", True),  # a stage's warmup: its thresholds judge per second
    ],
)
def test_a_worker_keeps_its_seconds_only_when_the_judge_reads_them(
    threshold: object, warmup: str | None, kept: bool
) -> None:
    spec = _spec(threshold, warmup)
    assert keeps_seconds(spec, build_plan(spec)) is kept
