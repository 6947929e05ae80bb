"""The engine against the test server: users held as planned, channels per user, the mix,
think time, ramp-down without errors. Counts are exact where the plan makes them exact;
timing-dependent figures are ratios with tolerances a busy 2-core machine meets."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import pytest

from sla_runner.api import load_spec_text, run_spec
from sla_runner.engine.execute import execute
from sla_runner.metrics.recording import Recording
from sla_runner.plan import Segment, build_plan
from sla_runner.spec.models import SpecV1
from sla_runner.timeunits import NS_PER_S
from tests.conftest import LiveServer
from tests.support.faultkit import count, engine_spec

pytestmark = pytest.mark.load


def _run(spec: SpecV1, engine: str | None = None) -> Recording:
    return execute(spec, build_plan(spec), engine=engine, handle_signals=False)


@pytest.mark.parametrize("engine", ["raw", "aiohttp", "httpx"])
def test_users_ramp_and_hold_as_planned_and_every_request_is_counted(
    test_server: LiveServer, engine: str
) -> None:
    tag = uuid.uuid4().hex
    spec = engine_spec(
        test_server,
        "engine-test",
        endpoints={"ok": {"path": "/ok", "query": {"tag": tag}}},
        load={
            "stages": [
                {"name": "up", "duration": "2s", "users": 6},
                {"name": "hold", "duration": "2s", "users": 6},
                {"name": "down", "duration": "1s", "users": 0},
            ],
            "think_time": "20ms",
        },
    )
    recording = _run(spec, engine)
    served = test_server.counts()[f"/ok?tag={tag}"]
    assert count(recording, "http") == served
    assert recording.select("http", "ok", None)[0].outcomes.keys() == {"ok"}
    rows = {row.second: row for row in recording.timeline}
    # Second 0 ramps 0 → 3 users, seconds 2 and 3 hold 6, the last second ramps down.
    assert rows[0].users <= 3
    assert rows[2].users == rows[3].users == 6
    assert max(row.users for row in recording.timeline) == 6
    # Each user does about one request per think time (20 ms + a fraction of a ms).
    held = sum(s.count for s in recording.select("http", None, 1))
    assert 6 * 2 * 25 < held <= 6 * 2 * 50


def test_each_user_holds_each_channel_open(test_server: LiveServer) -> None:
    tag = uuid.uuid4().hex
    spec = engine_spec(
        test_server,
        "engine-test",
        channels={
            "echo": {
                "url": f"{test_server.ws_url}/ws/echo?tag={tag}",
                "send": "ping",
                "expect": {"contains": "ping"},
                "interval": "100ms",
            }
        },
        load={"stages": [{"duration": "500ms", "users": 3}, {"duration": "2s", "users": 3}]},
    )
    recording = _run(spec)
    connects = recording.select("ws_connect", "echo", None)
    assert sum(s.count for s in connects) == 3  # one connection per user, for the whole run
    round_trips = count(recording, "ws", "echo")
    assert round_trips == test_server.counts()[f"ws:/ws/echo?tag={tag}"]
    # Three users at 10 messages a second for about 2 s.
    assert 3 * 10 <= round_trips <= 3 * 10 * 3
    assert all(s.outcomes.keys() == {"ok"} for s in recording.select("ws", None, None))


def test_the_weighted_mix_holds_across_users(test_server: LiveServer) -> None:
    tag = uuid.uuid4().hex
    spec = engine_spec(
        test_server,
        "engine-test",
        endpoints={
            "a": {"path": "/ok", "query": {"tag": tag, "e": "a"}, "weight": 3},
            "b": {"path": "/ok", "query": {"tag": tag, "e": "b"}, "weight": 1},
        },
        load={"stages": [{"duration": "1500ms", "users": 4}], "think_time": "5ms"},
    )
    recording = _run(spec)
    a, b = count(recording, "http", "a"), count(recording, "http", "b")
    assert a + b > 100
    # The wheel is exact per user; each user may stop part-way through one turn of it.
    assert abs(a - 3 * b) <= 4 * 4


def test_open_model_delivers_the_planned_arrivals_and_measures_them(
    test_server: LiveServer,
) -> None:
    spec = engine_spec(
        test_server,
        "engine-test",
        endpoints={"slow": {"path": "/delay", "query": {"ms": 30}}},
        load={"stages": [{"duration": "1s", "rate": "40/s"}, {"duration": "1s", "rate": "40/s"}]},
    )
    plan = build_plan(spec)
    recording = execute(spec, plan, handle_signals=False)
    assert count(recording, "http") == plan.total_arrivals() == 60
    hist = recording.series[("http", "slow", 1)].latency_us
    # The server's 30 ms sleep is a libuv timer, which may fire up to 1 ms early.
    assert hist.get_min_value() >= 29_000
    assert hist.get_value_at_percentile(50) < 200_000
    assert recording.generator.planned == 60
    assert recording.generator.dropped == 0
    assert recording.elapsed_ns >= 2 * NS_PER_S


def test_an_open_model_segment_sends_the_whole_mix(test_server: LiveServer) -> None:
    tag = uuid.uuid4().hex
    spec = engine_spec(
        test_server,
        "engine-test",
        endpoints={
            "a": {"path": "/ok", "query": {"tag": tag, "e": "a"}},
            "b": {"path": "/ok", "query": {"tag": tag, "e": "b"}},
        },
        load={"stages": [{"duration": "1s", "rate": "30/s"}]},
    )
    plan = build_plan(spec, Segment(1, 2))
    recording = execute(spec, plan, handle_signals=False)
    served = test_server.counts()
    # 8 of the ramp's 15 arrivals. Read at their global index (0, 2, 4, …), a 1:1 mix gave
    # this segment endpoint a only.
    assert plan.total_arrivals() == 8
    assert count(recording, "http", "a") == served[f"/ok?tag={tag}&e=a"] == 4
    assert count(recording, "http", "b") == served[f"/ok?tag={tag}&e=b"] == 4


def test_in_flight_open_model_requests_finish_at_the_end_rather_than_read_as_resets(
    test_server: LiveServer,
) -> None:
    tag = uuid.uuid4().hex
    spec = engine_spec(
        test_server,
        "engine-test",
        endpoints={"slow": {"path": "/delay", "query": {"ms": 800, "tag": tag}}},
        load={
            "stages": [{"duration": "1s", "rate": "20/s"}, {"duration": "1s", "rate": "20/s"}],
            "graceful_stop": "0s",  # the drain still waits out the request timeout (2 s)
        },
    )
    recording = _run(spec)
    series = recording.select("http", "slow", None)
    outcomes = sum((s.outcomes for s in series), start=Counter[str]())
    assert outcomes == {"ok": 30}
    assert test_server.counts()[f"/delay?ms=800&tag={tag}"] == 30
    assert not any("in flight" in note for note in recording.notes)


def test_users_whose_channels_all_gave_up_are_not_counted_as_held(
    test_server: LiveServer,
) -> None:
    spec = engine_spec(
        test_server,
        "engine-test",
        channels={
            "refused": {  # refused once the pre-flight's upgrade was accepted
                "path": f"/ws/refuse?after=1&t={uuid.uuid4().hex}",
                "send": "x",
                "reconnect": 0,
            }
        },
        load={"stages": [{"duration": "100ms", "users": 3}, {"duration": "2s", "users": 3}]},
    )
    recording = _run(spec)
    connects = sum((s.outcomes for s in recording.select("ws_connect", None, None)), Counter[str]())
    assert connects == {"ws_refused": 3}
    assert recording.timeline[-1].users == 0
    assert all(
        s.latency_us.get_total_count() == 0 for s in recording.select("ws_connect", None, None)
    )


def test_a_process_that_cannot_be_found_is_an_error_verdict_before_any_load(
    test_server: LiveServer, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex
    text = f"""
version: 1
name: no-process
sla_version: '1'
target: {{base_url: "{test_server.url}", process: {{pid: 999999999}}}}
endpoints: {{ok: {{path: /ok, query: {{tag: "{tag}"}}}}}}
load: {{stages: [{{duration: 1s, users: 1}}]}}
thresholds: [max(process.rss) < 1GB]
"""
    verdict = run_spec(load_spec_text(text, str(tmp_path / "spec.yaml")), handle_signals=False)
    assert verdict.status == "error"
    assert verdict.exit_code == 3
    assert verdict.message is not None
    assert "999999999" in verdict.message
    assert f"/ok?tag={tag}" not in test_server.counts()


def test_a_quiet_run_has_a_timeline_row_for_every_second(test_server: LiveServer) -> None:
    # No progress view, no process sampling: nothing happens in second 1 but it has its row,
    # as it would with the progress view on.
    tag = uuid.uuid4().hex
    spec = engine_spec(
        test_server,
        "engine-test",
        endpoints={"ok": {"path": "/ok", "query": {"tag": tag}}},
        load={
            "stages": [
                {"name": "first", "duration": "10ms", "rate": "20/s"},
                {"name": "none", "duration": "10ms", "rate": "0/s"},
                {"name": "quiet", "duration": "2s", "rate": "0/s"},
                {"name": "last", "duration": "50ms", "rate": "40/s"},
            ]
        },
    )
    plan = build_plan(spec)
    dues = [plan.arrival_ns(k) for k in range(plan.total_arrivals())]
    assert [due // NS_PER_S for due in dues if due is not None] == [0, 2]
    recording = _run(spec)
    assert count(recording, "http") == test_server.counts()[f"/ok?tag={tag}"] == 2
    rows = recording.timeline
    assert [row.second for row in rows] == [0, 1, 2]
    assert [row.requests for row in rows] == [1, 0, 1]
    assert rows[1].users == 0  # nothing was in flight
    assert rows[1].stage == plan.stage_at(1 * NS_PER_S) == 2
