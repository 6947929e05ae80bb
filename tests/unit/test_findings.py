"""Findings: each sentence has figures from the data and appears only when the data shows it."""

from __future__ import annotations

from sla_runner.judge.findings import (
    dominant_error,
    dominant_scope,
    kind_name,
    latency_trend,
    memory_growth,
)
from sla_runner.judge.verdicts import judge
from sla_runner.metrics.recorder import Recorder
from sla_runner.metrics.recording import Recording
from sla_runner.timeunits import NS_PER_S
from tests.unit.verdict_data import close, http, known_run, make_spec, recorder, run_info

RAMP = [{"name": "ramp", "duration": "12s", "users": 12}]


def long_run(fill_second: object, seconds: int = 12) -> Recording:
    spec = make_spec(["p95(http) < 100ms"], stages=RAMP)
    rec = recorder(spec)
    for s in range(seconds):
        fill_second(rec, s)  # type: ignore[operator]
    return close(rec, elapsed_s=seconds)


def test_the_endpoint_that_dominates_a_failing_percentile_is_named_with_figures() -> None:
    spec = make_spec(["p95(http) < 200ms"])
    verdict = judge(spec, close(known_run(spec)), run_info())
    assert verdict.findings[0] == (
        "http.create-order accounts for all 52 http requests slower than 200 ms; "
        "its p95 is 780.3 ms against 77.06 ms for the other endpoints."
    )


def _slow(counts: dict[str, tuple[int, int]]) -> str | None:
    """The scope finding of a run with (slow, fast) requests of 300 ms and 10 ms per
    endpoint, judged by p95(http) < 200ms."""
    spec = make_spec(["p95(http) < 200ms"])
    rec = recorder(spec)
    for scope, (slow, fast) in counts.items():
        for k in range(slow + fast):
            http(rec, scope, 300.0 if k < slow else 10.0, k / 100)
    recording = close(rec)
    return dominant_scope(recording, judge(spec, recording, run_info()).thresholds[0])


def test_every_scope_finding_reads_as_a_sentence() -> None:
    assert _slow({"create-order": (30, 30), "list-items": (10, 190)}) == (
        "http.create-order accounts for 30 of the 40 http requests slower than 200 ms (75%); "
        "its p95 is 300.0 ms against 10.01 ms for the other endpoints."
    )
    assert _slow({"create-order": (1, 0), "list-items": (0, 20)}) == (
        "http.create-order accounts for the only http request slower than 200 ms; "
        "its p95 is 300.0 ms against 10.01 ms for the other endpoints."
    )


def test_no_dominant_endpoint_when_the_slow_samples_are_shared() -> None:
    spec = make_spec(["p95(http) < 200ms"])
    rec = recorder(spec)
    for k in range(40):
        http(rec, "list-items" if k % 2 else "create-order", 300.0, k / 10)
    recording = close(rec)
    verdict = judge(spec, recording, run_info())
    assert dominant_scope(recording, verdict.thresholds[0]) is None


def test_the_dominant_error_kind_is_counted() -> None:
    spec = make_spec(["success_rate(http) > 99%"])
    rec = recorder(spec)
    for k in range(100):
        key = "timeout" if k < 30 else ("status_503" if k < 40 else "ok")
        http(rec, "create-order" if k < 35 else "list-items", 10.0, k / 25, key)
    sentence = dominant_error(close(rec), "http")
    assert sentence == (
        "Of 40 failed http requests, 30 (75%) were timeouts and 10 (25%) HTTP 503 responses; "
        "35 of them (88%) were on http.create-order."
    )


def _errors(outcomes: list[tuple[str, str, int]]) -> str | None:
    """The error finding of a run whose HTTP requests ended as (scope, key, count) say."""
    rec = recorder(make_spec(["success_rate(http) > 99%"]))
    k = 0
    for scope, key, n in outcomes:
        for _ in range(n):
            http(rec, scope, 10.0, k / 1000, key)
            k += 1
    return dominant_error(close(rec), "http")


def test_every_error_finding_reads_as_a_sentence() -> None:
    """Each says what the failures were with a verb, in the singular for one."""
    assert _errors([("list-items", "status_500", 428)]) == (
        "All 428 failed http requests were HTTP 500 responses."
    )
    assert _errors([("list-items", "status_500", 400), ("create-order", "status_500", 28)]) == (
        "All 428 failed http requests were HTTP 500 responses; 400 of them (93%) were on "
        "http.list-items."
    )
    assert _errors([("list-items", "ok", 5), ("create-order", "timeout", 1)]) == (
        "The only failed http request was a timeout, on http.create-order."
    )
    assert _errors([("list-items", "reset", 1), ("list-items", "status_503", 2)]) == (
        "Of 3 failed http requests, 2 (67%) were HTTP 503 responses and 1 (33%) a connection reset."
    )
    assert _errors(
        [
            ("list-items", "timeout", 1),
            ("list-items", "tls_error", 1),
            ("list-items", "reset", 1),
            ("list-items", "status_500", 1),
            ("list-items", "status_502", 1),
        ]
    ) == (
        "Of 5 failed http requests, 1 (20%) was a connection reset, 1 (20%) an HTTP 500 "
        "response, 1 (20%) an HTTP 502 response and 2 (40%) of other kinds."
    )


def test_no_error_finding_without_errors() -> None:
    spec = make_spec(["p95(http) < 1ms"])
    rec = recorder(spec)
    http(rec, "list-items", 5.0, 0.1)
    assert dominant_error(close(rec), "http") is None


def test_latency_that_grows_with_users() -> None:
    def ramp(rec: Recorder, s: int) -> None:
        rec.users(s + 1, s * NS_PER_S)
        for k in range(20):
            http(rec, "list-items", 10.0 + 20 * s + k * 0.1, s + k / 20)

    sentence = latency_trend(long_run(ramp))
    assert sentence is not None
    assert sentence.startswith("HTTP p95 latency grew with the number of users: a median of ")
    assert "over the 4 seconds with the fewest users (at most 4)" in sentence
    assert "(at least 10); correlation 1.00 over 13 s." in sentence


def test_latency_that_rises_at_steady_load() -> None:
    def steady(rec: Recorder, s: int) -> None:
        rec.users(8, s * NS_PER_S)
        for k in range(20):
            http(rec, "list-items", 10.0 + 15 * s, s + k / 20)

    sentence = latency_trend(long_run(steady))
    assert sentence is not None
    assert sentence.startswith("HTTP p95 latency kept rising while the load held at about 8 users")


def test_no_trend_finding_when_latency_is_flat() -> None:
    def flat(rec: Recorder, s: int) -> None:
        rec.users(s + 1, s * NS_PER_S)
        for k in range(20):
            http(rec, "list-items", 12.0 + (k % 3), s + k / 20)

    assert latency_trend(long_run(flat)) is None


def test_memory_that_keeps_growing() -> None:
    def leak(rec: Recorder, s: int) -> None:
        rec.users(4, s * NS_PER_S)
        http(rec, "list-items", 5.0, s + 0.5)
        rec.gauge("process.rss", (100 + 10 * s) * 1024**2, s * NS_PER_S + 1)

    assert memory_growth(long_run(leak)) == (
        "The service's memory kept growing: RSS went from 100 MB to 210 MB over 11 s "
        "(10 MB/s, correlation 1.00)."
    )


def test_no_memory_finding_when_it_is_flat() -> None:
    def flat(rec: Recorder, s: int) -> None:
        rec.users(4, s * NS_PER_S)
        http(rec, "list-items", 5.0, s + 0.5)
        rec.gauge("process.rss", (100 + (s % 2)) * 1024**2, s * NS_PER_S + 1)

    assert memory_growth(long_run(flat)) is None


def test_a_passing_verdict_has_no_findings() -> None:
    spec = make_spec(["p95(http) < 2s"])
    verdict = judge(spec, close(known_run(spec)), run_info())
    assert verdict.status == "pass"
    assert verdict.findings == []


def test_error_kinds_read_as_words() -> None:
    assert kind_name("status_503") == "HTTP 503 responses"
    assert kind_name("status_503", 1) == "an HTTP 503 response"
    assert kind_name("connect_error") == "connect errors"
    assert kind_name("ws_bad_reply", 1) == "an invalid WebSocket reply"
    assert kind_name("bad_frame") == "bad frames"
    assert kind_name("odd_frame", 1) == "an odd frame"
