"""How a run ends, against the test server: at the end of the plan, or stopped early (the
caller's RunControl, as Ctrl-C and --fail-fast use it) with a short grace for what is in
flight. Bounds on time are generous: a busy 2-core machine meets them; the defects they
catch are off by seconds, not milliseconds."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator

import anyio
import pytest

from sla_runner.engine.control import RunControl
from sla_runner.engine.execute import execute_async
from sla_runner.judge.thresholds import evaluate
from sla_runner.metrics.recording import Recording
from sla_runner.plan import Plan, build_plan
from sla_runner.spec.models import SpecV1
from sla_runner.timeunits import NS_PER_MS, NS_PER_S
from tests.conftest import LiveServer
from tests.support.faultkit import count, engine_spec

pytestmark = pytest.mark.load


def _run(spec: SpecV1, *, stop_after_s: float | None = None) -> Recording:
    """Run the spec in this process; with ``stop_after_s``, the caller stops it then."""
    control = RunControl()

    async def main() -> Recording:
        async with anyio.create_task_group() as tg:
            if stop_after_s is not None:

                async def stop_later() -> None:
                    await anyio.sleep(stop_after_s)
                    control.abort("stopped by the test")

                tg.start_soon(stop_later)
            recording = await execute_async(spec, build_plan(spec), control=control)
            tg.cancel_scope.cancel()
        return recording

    return anyio.run(main, backend="asyncio")


def _dues(plan: Plan) -> Iterator[int]:
    """When each of the plan's arrivals is due (ns)."""
    n = 0
    while (arrival := plan.segment_arrival(n)) is not None:
        yield arrival[1]
        n += 1


def test_a_stage_entered_only_by_responses_in_the_grace_is_not_reached(
    test_server: LiveServer,
) -> None:
    # Stopped at ~0.3 s, inside "a"; the requests in flight answer at ~1.35 s, inside "b",
    # during the grace. They are counted, in "a" where they were sent; "b" was never run.
    tag = uuid.uuid4().hex
    spec = engine_spec(
        test_server,
        "ending-test",
        endpoints={"slow": {"path": "/delay", "query": {"ms": 1300, "tag": tag}}},
        load={
            "stages": [
                {"name": "up", "duration": "50ms", "users": 2},
                {"name": "a", "duration": "1s", "users": 2},
                {"name": "b", "duration": "3s", "users": 2},
            ],
            "graceful_stop": "5s",  # the grace after a stop is still at most 1.5 s
        },
        thresholds=[
            {"expr": "p95(http) < 2s", "during": "a"},
            {"expr": "p95(http) < 2s", "during": "b"},
        ],
    )
    recording = _run(spec, stop_after_s=0.3)
    assert recording.aborted
    assert count(recording, "http") == test_server.counts()[f"/delay?ms=1300&tag={tag}"] == 2
    assert recording.elapsed_ns > 1 * NS_PER_S  # the grace ran into "b"'s time
    assert recording.stages_reached == 2  # "up" and "a"
    assert recording.window_ns(1) < 0.9 * NS_PER_S  # "a" ran until the stop, not through the grace
    during_a, during_b = (evaluate(rule, recording) for rule in spec.thresholds)
    assert during_a.status == "pass"
    assert during_b.status == "skipped"


def test_an_open_model_run_lasts_the_whole_plan_after_its_last_arrival(
    test_server: LiveServer,
) -> None:
    # The last arrival is due at about 1 s; "cool" carries none and is still run and sampled.
    tag = uuid.uuid4().hex
    spec = engine_spec(
        test_server,
        "ending-test",
        target={
            "base_url": test_server.url,
            "timeout": "2s",
            "process": {"pid": os.getpid(), "interval": "200ms"},
        },
        endpoints={"ok": {"path": "/ok", "query": {"tag": tag}}},
        load={
            "stages": [
                {"name": "load", "duration": "1s", "rate": "10/s"},
                {"name": "stop", "duration": "100ms", "rate": "0/s"},
                {"name": "cool", "duration": "1s", "rate": "0/s"},
            ]
        },
    )
    plan = build_plan(spec)
    recording = _run(spec)
    assert (
        count(recording, "http") == plan.total_arrivals() == test_server.counts()[f"/ok?tag={tag}"]
    )
    assert recording.elapsed_ns >= plan.duration_ns
    # About 5 samples of the service's memory in the cool-down; none when it was cut off.
    assert recording.gauge("process.rss", 2).get_total_count() >= 2


def test_an_open_model_stop_lets_in_flight_arrivals_finish_and_counts_only_those_made(
    test_server: LiveServer,
) -> None:
    # Stopped at ~1 s with about eight 800 ms requests in flight: the grace (up to 1.5 s)
    # lets them answer, so the slowest requests are measured, not cut off.
    tag = uuid.uuid4().hex
    spec = engine_spec(
        test_server,
        "ending-test",
        endpoints={"slow": {"path": "/delay", "query": {"ms": 800, "tag": tag}}},
        load={
            "stages": [
                {"name": "up", "duration": "10ms", "rate": "10/s"},
                {"name": "steady", "duration": "3s", "rate": "10/s"},
            ]
        },
    )
    recording = _run(spec, stop_after_s=1.0)
    assert recording.aborted
    served = test_server.counts()[f"/delay?ms=800&tag={tag}"]
    outcomes = sum((s.outcomes for s in recording.select("http", None, None)), Counter[str]())
    assert outcomes == {"ok": served}
    assert served >= 3
    assert not any("in flight" in note for note in recording.notes)
    assert recording.generator.planned == served + recording.generator.dropped
    # None was sent after the stop: the pacer wakes during the grace and sends no more.
    # (An arrival sent just before the stop may be due up to the timer slack after it.)
    plan = build_plan(spec)
    due_by_stop = sum(1 for due in _dues(plan) if due < recording.load_ns + 2 * NS_PER_MS)
    assert served <= due_by_stop


def test_an_open_model_arrival_still_awaited_at_the_stop_is_not_counted_as_planned(
    test_server: LiveServer,
) -> None:
    # One arrival a second, due at 0 s and ~1 s; stopped at ~0.5 s, when the first has
    # answered and the pacer waits for the second, which is never made.
    tag = uuid.uuid4().hex
    spec = engine_spec(
        test_server,
        "ending-test",
        endpoints={"ok": {"path": "/ok", "query": {"tag": tag}}},
        load={
            "stages": [
                {"name": "up", "duration": "10ms", "rate": "1/s"},
                {"name": "steady", "duration": "3s", "rate": "1/s"},
            ]
        },
    )
    recording = _run(spec, stop_after_s=0.5)
    assert recording.aborted
    assert test_server.counts()[f"/ok?tag={tag}"] == count(recording, "http") == 1
    assert recording.generator.planned == 1


def test_a_user_told_to_leave_stops_thinking_at_once(test_server: LiveServer) -> None:
    # Each user sends one request, then would think for 10 s; the plan ends at 2 s.
    tag = uuid.uuid4().hex
    spec = engine_spec(
        test_server,
        "ending-test",
        endpoints={"ok": {"path": "/ok", "query": {"tag": tag}}},
        load={
            "stages": [
                {"name": "hold", "duration": "1s", "users": 2},
                {"name": "down", "duration": "1s", "users": 0},
            ],
            "think_time": "10s",
        },
    )
    plan = build_plan(spec)
    recording = _run(spec)
    assert 1 <= count(recording, "http") == test_server.counts()[f"/ok?tag={tag}"] <= 2
    assert plan.duration_ns <= recording.elapsed_ns < plan.duration_ns + 2 * NS_PER_S
