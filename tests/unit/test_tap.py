"""The tap that feeds the streams (NDJSON, HDR interval log, live /metrics): each closed
second it hands on the recorder's own figures of that second — every sample recorded once,
by the recorder — the same counts and histograms the recording keeps (``seconds``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hdrh.histogram import HdrHistogram

from sla_runner.metrics import recorder as recorder_module
from sla_runner.metrics.histogram import expand, latency_histogram, record_latency
from sla_runner.metrics.recorder import Recorder
from sla_runner.metrics.recording import Recording
from sla_runner.metrics.tap import Second, Tap
from sla_runner.plan import build_plan
from sla_runner.spec.format2 import Spec
from sla_runner.timeunits import NS_PER_MS, NS_PER_S, NS_PER_US
from tests.support.faultkit import count_calls
from tests.unit.verdict_data import STARTED_AT

SECONDS = 4


class Kept:
    """A sink that keeps what each second held (the tap resets its histograms after)."""

    def __init__(self) -> None:
        self.seconds: list[tuple[int, dict[str, tuple[dict[str, int], HdrHistogram]]]] = []

    def second(self, second: Second) -> None:
        held = {}
        for name, s in second.series.items():
            copy = latency_histogram()
            copy.add(s.latency_us)
            held[name] = (dict(s.outcomes), copy)
        self.seconds.append((second.row.second, held))


def two_scenarios() -> Spec:
    """Two scenarios sharing endpoint ``a``, one flow."""

    def load(stage: str) -> dict[str, object]:
        return {"stages": [{"name": stage, "duration": f"{SECONDS}s", "users": 2}]}

    return Spec.model_validate(
        {
            "version": 2,
            "name": "tap",
            "sla_version": "1.0.0",
            "target": {"base_url": "http://127.0.0.1:8000"},
            "endpoints": {"a": {"path": "/a"}, "b": {"path": "/b"}},
            "scenarios": {
                "one": {"load": load("run-one"), "mix": {"a": 1, "b": 1}},
                "two": {"load": load("run-two"), "mix": {"a": 1}},
            },
        }
    )


def record(rec: Recorder) -> Recording:
    """Per second and scenario, requests to a and b (some failing, some unanswered), a WS
    round trip and a flow pass."""
    sinks = [rec.scenario(0), rec.scenario(1)]
    for second in range(SECONDS):
        for n in range(30):
            sink = sinks[n % 2]
            end = second * NS_PER_S + (n + 1) * 30 * NS_PER_MS
            latency = (1_000 + 997 * n * (second + 1)) * NS_PER_US
            scope = "a" if n % 3 else "b"
            key = "status_500" if n % 7 == 0 else "ok"
            sink.request("http", scope, key, None if n == 11 else latency, end - latency, end)
        t = second * NS_PER_S + 500 * NS_PER_MS
        sinks[0].request("ws", "prices", "ok", 2 * NS_PER_MS, t, t)
        sinks[1].request("flow", "two", "ok", 9 * NS_PER_MS, t, t)
    return rec.close(
        elapsed_ns=SECONDS * NS_PER_S,
        started_at=STARTED_AT,
        finished_at=STARTED_AT + SECONDS,
        aborted=False,
    )


def test_the_taps_seconds_are_the_recorders() -> None:
    rec = Recorder(build_plan(two_scenarios()))
    kept = Kept()
    rec.tap = Tap([kept])
    recording = record(rec)
    assert [n for n, _ in kept.seconds] == [row.second for row in recording.timeline]
    for (n, held), row in zip(kept.seconds, recording.timeline, strict=True):
        # flows are not streamed; the rest per endpoint and channel, scenarios added
        assert sorted(held) == ["http.a", "http.b", "ws.prices"]
        for name, (outcomes, hist) in held.items():
            figures = row.series[name]
            assert sum(outcomes.values()) == figures.count
            assert {k: v for k, v in outcomes.items() if k != "ok"} == figures.errors
            metric, scope = name.split(".")
            chosen = recording.seconds.select(metric, scope, None)
            kept_total = latency_histogram()
            for series in chosen:
                _, _, blob = series.at(n)
                if blob:
                    kept_total.add(expand(blob))
            assert hist.get_total_count() == kept_total.get_total_count()
            assert list(hist.counts) == list(kept_total.counts)
            assert sum(s.at(n)[0] for s in chosen) == figures.count
        assert sum(sum(o.values()) for o, _ in held.values()) == row.requests + row.ws_round_trips
    assert sum(len(held["http.a"][0]) for _, held in kept.seconds) > 0


def _counted(record: Callable[..., None], calls: list[None]) -> Callable[..., None]:
    """``record_latency`` (one value into a series and its second), counted."""

    def counted(*args: object) -> None:
        calls.append(None)
        record(*args)

    return counted


def test_a_tap_records_no_sample_a_second_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """With streams on, each latency is recorded as often as without them (hdrh's
    ``record_value`` or the recorder's inline record into a series and its second)."""
    calls = count_calls(monkeypatch, HdrHistogram, "record_value")
    inline = record_latency
    monkeypatch.setattr(recorder_module, "record_latency", _counted(inline, calls))
    record(Recorder(build_plan(two_scenarios())))
    alone = len(calls)
    calls.clear()
    rec = Recorder(build_plan(two_scenarios()))
    rec.tap = Tap([Kept()])
    record(rec)
    assert alone > 0
    assert len(calls) == alone


def test_a_pass_recorded_by_its_own_path_is_what_the_general_path_records() -> None:
    """``ScenarioSink.passed`` (a flow's pass, its series and second held per stage) records
    exactly what ``request("flow", <scenario>, ...)`` records: series, outcomes, seconds."""

    def passes(by_own_path: bool) -> Recording:
        rec = Recorder(build_plan(two_scenarios()))
        sink = rec.scenario(1)
        for second in range(SECONDS):
            for n in range(5):
                end = second * NS_PER_S + (n + 1) * 150 * NS_PER_MS
                took = None if n == 3 else (2_000 + 1_500 * n * (second + 1)) * NS_PER_US
                key = "ok" if took is not None else "b:status_500"
                if by_own_path:
                    sink.passed(key, took, end - 5 * NS_PER_MS, end)
                else:
                    sink.request("flow", "two", key, took, end - 5 * NS_PER_MS, end)
        return rec.close(
            elapsed_ns=SECONDS * NS_PER_S,
            started_at=STARTED_AT,
            finished_at=STARTED_AT + SECONDS,
            aborted=False,
        )

    own, general = passes(True), passes(False)
    assert own.series.keys() == general.series.keys() == {("flow", "two", 1)}
    mine, theirs = own.series[("flow", "two", 1)], general.series[("flow", "two", 1)]
    assert mine.outcomes == theirs.outcomes == {"ok": 4 * SECONDS, "b:status_500": SECONDS}
    assert mine.latency_us.encode() == theirs.latency_us.encode()
    assert [r.series for r in own.timeline] == [r.series for r in general.timeline]
    assert [r.series["flow.two"] for r in own.timeline[:SECONDS]]  # every second has its passes
