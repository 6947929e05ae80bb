"""The recorder and the Recording: stage attribution, timeline, exact merge, round trip."""

from __future__ import annotations

import json

import pytest

from sla_runner.metrics.recorder import Recorder
from sla_runner.metrics.recording import Recording
from sla_runner.plan import Plan, Segment, build_plan
from sla_runner.spec.models import SpecV1
from sla_runner.timeunits import NS_PER_MS, NS_PER_S


def _plan(segment: Segment | None = None) -> Plan:
    spec = SpecV1.model_validate(
        {
            "version": 1,
            "name": "rec",
            "sla_version": "1",
            "target": {"base_url": "http://127.0.0.1:9"},
            "endpoints": {"a": {"path": "/a"}, "b": {"path": "/b"}},
            "load": {
                "stages": [
                    {"name": "warm", "duration": "2s", "users": 4},
                    {"name": "hold", "duration": "3s", "users": 4},
                ]
            },
        }
    )
    return build_plan(spec, segment or Segment())


def _fill(recorder: Recorder, values_ms: list[int], *, offset_s: float = 0.0) -> None:
    for i, v in enumerate(values_ms):
        start = round((offset_s + i * 0.01) * NS_PER_S)
        key = "ok" if v < 500 else "status_503"
        recorder.request(
            "http", "a" if i % 2 else "b", key, v * NS_PER_MS, start, start + v * NS_PER_MS
        )


def _close(recorder: Recorder) -> Recording:
    return recorder.close(
        elapsed_ns=5 * NS_PER_S, started_at=100.0, finished_at=105.0, aborted=False
    )


def test_samples_belong_to_the_stage_they_were_due_in() -> None:
    rec = Recorder(_plan())
    rec.request("http", "a", "ok", 5 * NS_PER_MS, 2 * NS_PER_S - 1, 2 * NS_PER_S + 10 * NS_PER_MS)
    rec.request("http", "a", "ok", 7 * NS_PER_MS, 2 * NS_PER_S, 2 * NS_PER_S + 7 * NS_PER_MS)
    recording = _close(rec)
    assert recording.series[("http", "a", 0)].count == 1
    assert recording.series[("http", "a", 1)].count == 1
    assert recording.series[("http", "a", 1)].latency_us.get_max_value() == 7003  # 3 digits


def test_timeline_rows_per_second_with_percentiles_and_errors() -> None:
    rec = Recorder(_plan())
    _fill(rec, [10] * 50 + [600] * 10)  # all start in the first second
    rec.users(4, int(1.5 * NS_PER_S))
    recording = _close(rec)
    rows = {row.second: row for row in recording.timeline}
    assert rows[0].requests + rows[1].requests == 60
    assert rows[0].errors + rows[1].errors == 10
    assert rows[1].users == 4
    assert rows[0].p50_ms is not None
    assert 9.9 <= rows[0].p50_ms <= 10.1


def test_merge_of_halves_equals_the_whole_exactly() -> None:
    values = [3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987] * 7
    whole = Recorder(_plan())
    _fill(whole, values)
    halves = [Recorder(_plan(Segment(i, 2))) for i in (1, 2)]
    for i, v in enumerate(values):
        start = round(i * 0.01 * NS_PER_S)
        outcome = "ok" if v < 500 else "status_503"
        halves[i % 2].request(
            "http", "a" if i % 2 else "b", outcome, v * NS_PER_MS, start, start + v * NS_PER_MS
        )
    merged = _close(halves[0]).merge(_close(halves[1]))
    expected = _close(whole)
    assert merged.series.keys() == expected.series.keys()
    for key, series in expected.series.items():
        assert merged.series[key].outcomes == series.outcomes
        for p in (50, 90, 99, 99.9, 100):
            got = merged.series[key].latency_us.get_value_at_percentile(p)
            assert got == series.latency_us.get_value_at_percentile(p)
    assert merged.segment == "merged"


def test_round_trip_through_json_is_lossless() -> None:
    rec = Recorder(_plan())
    _fill(rec, [1, 2, 3, 400, 900])
    rec.gauge("process.rss", 300 * 1024 * 1024, NS_PER_S)
    rec.gauge("process.cpu", 12.5, NS_PER_S)
    rec.dropped(NS_PER_S)
    rec.reconnect("prices")
    rec.note("a note")
    original = _close(rec)
    text = json.dumps(original.to_dict())
    again = Recording.from_dict(json.loads(text))
    assert again.to_dict() == original.to_dict()
    assert again.gauge("process.rss", None).get_max_value() // 1024 == 300
    assert again.generator.dropped == 1
    assert again.reconnects["prices"] == 1


def test_merge_refuses_recordings_of_different_plans() -> None:
    one = _close(Recorder(_plan()))
    other = Recording(stage_names=["x"], stage_durations_ns=[NS_PER_S])
    with pytest.raises(ValueError, match="stages differ"):
        one.merge(other)


def test_the_whole_run_window_is_the_planned_load_not_the_drain_after_it() -> None:
    rec = Recorder(_plan())
    drained = rec.close(elapsed_ns=9 * NS_PER_S, started_at=0.0, finished_at=9.0, aborted=False)
    assert drained.window_ns(None) == 5 * NS_PER_S
    assert drained.window_ns(1) == 3 * NS_PER_S
    cut = Recorder(_plan()).close(
        elapsed_ns=3 * NS_PER_S, started_at=0, finished_at=3, aborted=True
    )
    assert cut.window_ns(None) == 3 * NS_PER_S
    assert cut.window_ns(1) == 1 * NS_PER_S
    assert cut.window_ns(0) == 2 * NS_PER_S


def test_an_aborted_run_reached_the_stages_entered_before_its_stop_not_in_the_grace() -> None:
    rec = Recorder(_plan())
    # Due in "warm" at 0.5 s, answered at 2.5 s: in the grace after the stop at 1.5 s.
    rec.request("http", "a", "ok", 2 * NS_PER_S, NS_PER_S // 2, 5 * NS_PER_S // 2)
    cut = rec.close(
        elapsed_ns=3 * NS_PER_S,
        started_at=0,
        finished_at=3,
        aborted=True,
        stopped_ns=NS_PER_S * 3 // 2,
    )
    assert cut.stages_reached == 1
    assert cut.load_ns == NS_PER_S * 3 // 2
    assert cut.window_ns(0) == cut.window_ns(None) == NS_PER_S * 3 // 2
    assert cut.window_ns(1) == 0
    assert cut.series[("http", "a", 0)].count == 1
    # A recording written before load_ns was kept: the windows as they were reckoned then.
    data = cut.to_dict()
    del data["load_ns"]
    old = Recording.from_dict(data)
    assert old.window_ns(0) == 2 * NS_PER_S
    assert old.window_ns(1) == 1 * NS_PER_S


def test_every_second_of_the_run_has_a_timeline_row_carrying_the_users() -> None:
    rec = Recorder(_plan())
    rec.users(3, NS_PER_S // 10)
    rec.request("http", "a", "ok", 5 * NS_PER_MS, NS_PER_S // 10, NS_PER_S // 10 + 5 * NS_PER_MS)
    rec.users(2, NS_PER_S // 5)  # held from 0.2 s on, through the seconds where nothing happens
    rec.request(
        "http",
        "b",
        "ok",
        5 * NS_PER_MS,
        3 * NS_PER_S + NS_PER_S // 10,
        3 * NS_PER_S + NS_PER_S // 10 + 5 * NS_PER_MS,
    )
    rec.users(0, 3 * NS_PER_S + NS_PER_S // 5)
    recording = rec.close(
        elapsed_ns=5 * NS_PER_S + NS_PER_S // 2, started_at=0, finished_at=5.5, aborted=False
    )
    rows = recording.timeline
    assert [row.second for row in rows] == [0, 1, 2, 3, 4, 5]  # up to the end of the run
    assert [row.users for row in rows] == [3, 2, 2, 2, 0, 0]
    assert [row.requests for row in rows] == [1, 0, 0, 1, 0, 0]
    assert [row.stage for row in rows] == [0, 0, 1, 1, 1, 1]
    assert rows[1].p95_ms is None


def test_back_offs_are_kept_merged_and_absent_from_old_recordings() -> None:
    halves = [Recorder(_plan(Segment(i, 2))) for i in (1, 2)]
    for _ in range(3):
        halves[0].backoff()
    halves[1].backoff()
    one, two = (_close(h) for h in halves)
    again = Recording.from_dict(json.loads(json.dumps(one.to_dict())))
    assert again.generator.backoffs == 3
    assert one.merge(two).generator.backoffs == 4
    old = one.to_dict()
    del old["generator"]["backoffs"]  # written before back-offs were counted
    assert Recording.from_dict(old).generator.backoffs == 0
