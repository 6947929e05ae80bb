"""The judge on constructed recordings: edge cases of thresholds, statuses and validity."""

from __future__ import annotations

from typing import Any

import pytest

from sla_runner import numbers
from sla_runner.judge.verdicts import judge
from sla_runner.metrics.recorder import Recorder
from sla_runner.plan import build_plan
from sla_runner.timeunits import NS_PER_S
from sla_runner.verdict import ThresholdResult, Verdict
from tests.unit.verdict_data import SECRET, close, http, known_run, make_spec, recorder, run_info

OPEN_STAGES = [{"name": "steady", "duration": "4s", "rate": "50/s"}]


def judged(thresholds: list[Any], fill: Any, **close_args: Any) -> Verdict:
    spec = make_spec(thresholds)
    rec = recorder(spec)
    fill(rec)
    return judge(spec, close(rec, **close_args), run_info())


def only(verdict: Verdict) -> ThresholdResult:
    assert len(verdict.thresholds) == 1
    return verdict.thresholds[0]


def steady_1500us(rec: Recorder) -> None:
    """100 list-items requests of exactly 1.5 ms (exact in HDR: below 2,048 µs)."""
    rec.users(10, 0)
    for k in range(100):
        http(rec, "list-items", 1.5, k / 25)


def test_threshold_on_endpoint_never_called_fails_with_the_reason() -> None:
    verdict = judged(["p95(http.create-order) < 400ms"], steady_1500us)
    result = only(verdict)
    assert (result.status, result.passed, result.observed, result.samples) == (
        "no_data",
        False,
        None,
        0,
    )
    assert (
        result.message
        == "p95(http.create-order): no samples: no http.create-order requests were made"
    )
    assert verdict.status == "fail"
    assert verdict.exit_code == 1


def test_latency_threshold_with_only_connect_errors_has_no_latency_samples() -> None:
    def refused(rec: Recorder) -> None:
        for k in range(3):
            http(rec, "list-items", None, k, key="connect_error")

    result = only(
        judged(
            [
                "p95(http) < 200ms",
            ],
            refused,
        )
    )
    assert result.status == "no_data"
    assert "none of the 3 http requests got a response" in result.message


@pytest.mark.parametrize(
    ("expr", "passed", "margin"),
    [
        ("p95(http) < 1500us", False, 0.0),
        ("p95(http) <= 1.5ms", True, 0.0),
        ("max(http) < 1.6ms", True, 0.1),
        ("min(http) > 1.5ms", False, 0.0),
        ("min(http) >= 1.5ms", True, 0.0),
        ("mean(http) <= 1.5ms", True, 0.0),
    ],
)
def test_exact_boundary_and_strict_versus_inclusive(expr: str, passed: bool, margin: float) -> None:
    result = only(judged([expr], steady_1500us))
    assert result.observed == 1.5
    assert result.passed is passed
    assert result.margin == pytest.approx(margin)
    assert result.samples == 100
    assert result.unit == "ms"


def test_message_names_observed_limit_and_samples() -> None:
    result = only(judged(["p95(http) < 1ms"], steady_1500us))
    assert result.message == "p95(http) = 1.5 ms, limit < 1 ms (n=100)"
    assert result.margin == -0.5
    assert result.margin_pct == -50.0


def test_percentiles_report_hdr_highest_equivalent_value() -> None:
    # 200 ms is recorded to 3 significant digits: HDR reports at most 0.1% above it.
    def at_200ms(rec: Recorder) -> None:
        http(rec, "list-items", 200.0, 0.5)

    result = only(judged(["p95(http) < 200.2ms"], at_200ms))
    assert 200.0 <= (result.observed or 0) <= 200.2
    assert result.passed is True


@pytest.mark.parametrize(
    ("expr", "observed", "passed"),
    [
        # 11 requests of 1.5 ms and one of 1.9 ms: 95% of 12 is 11.4 samples, so the p95 is
        # the 12th; the 11th (hdrh's rank rounded to nearest) has only 91.7% at or below it.
        ("p95(http) < 1.8ms", 1.9, False),
        ("p92(http) < 1.8ms", 1.9, False),
        ("p91(http) < 1.8ms", 1.5, True),  # 10.92 samples: the 11th
        ("p50(http) < 1.8ms", 1.5, True),
        ("max(http) < 1.8ms", 1.9, False),
    ],
)
def test_percentiles_are_nearest_rank_rounded_up(expr: str, observed: float, passed: bool) -> None:
    def one_slow_in_12(rec: Recorder) -> None:
        rec.users(1, 0)
        for k in range(11):
            http(rec, "list-items", 1.5, k / 25)
        http(rec, "list-items", 1.9, 0.5)

    result = only(judged([expr], one_slow_in_12))
    assert result.observed == observed
    assert result.passed is passed


def test_failures_no_threshold_judges_are_noted() -> None:
    """Every request a 404 and only a latency threshold: the run passes on what it promised,
    and the verdict says that the failures went unjudged."""

    def all_404(rec: Recorder) -> None:
        rec.users(1, 0)
        for k in range(20):
            http(rec, "list-items", 1.0, k / 10, key="status_404")

    verdict = judged(["p95(http) < 200ms"], all_404)
    assert verdict.status == "pass"
    assert verdict.notes == [
        "20 of 20 http requests failed (status_404 20) and no threshold judges them: "
        "add success_rate(http) > 99%"
    ]
    judged_too = judged(["p95(http) < 200ms", "success_rate(http.list-items) > 99%"], all_404)
    assert judged_too.status == "fail"
    assert judged_too.notes == []


def test_a_verdict_records_the_load_model_of_its_one_scenario() -> None:
    """A version-1 spec is one scenario, default: closed with users, open with a rate."""
    assert judged(["p95(http) < 200ms"], steady_1500us).scenario_models == {"default": "closed"}
    spec = make_spec(["p95(http) < 200ms"], stages=OPEN_STAGES)
    rec = recorder(spec)
    steady_1500us(rec)
    verdict = judge(spec, close(rec), run_info())
    assert verdict.scenario_models == {"default": "open"}


def test_a_threshold_kept_to_a_stage_leaves_the_other_stages_failures_noted() -> None:
    """404s in both stages, a success rate judged during steady only: the note counts the
    ramp's requests alone and says so; judged whole, nothing is left to note."""

    def failing_in_both(rec: Recorder) -> None:
        rec.users(10, 0)
        for k in range(40):  # 20 in ramp (0-2 s), 20 in steady; every fourth a 404
            http(rec, "list-items", 1.0, k / 10, key="status_404" if k % 4 == 0 else "ok")

    steady = {"expr": "success_rate(http) > 99%", "during": "steady"}
    verdict = judged(["p95(http) < 200ms", steady], failing_in_both)
    assert verdict.notes == [
        "5 of 20 http requests during ramp failed (status_404 5) and no threshold judges "
        "them: add success_rate(http) > 99%"
    ]
    whole = judged(["p95(http) < 200ms", steady, "error_rate(http) < 1%"], failing_in_both)
    assert whole.notes == []


def test_users_are_judged_on_the_load_not_on_the_drain_after_it() -> None:
    """Users leave while the last requests drain after the plan (4 s here): the seconds of
    the drain are in the timeline, but not in what users thresholds and summaries judge."""

    def held_then_drained(rec: Recorder) -> None:
        rec.users(10, 0)
        rec.users(10, int(2.5 * NS_PER_S))
        rec.users(3, int(4.5 * NS_PER_S))  # the drain
        rec.users(0, int(5.2 * NS_PER_S))

    verdict = judged(
        [{"expr": "min(users) >= 10", "during": "steady"}, "mean(users) >= 10"],
        held_then_drained,
        elapsed_s=5.5,
    )
    assert [(t.observed, t.samples, t.status) for t in verdict.thresholds] == [
        (10.0, 2, "pass"),
        (10.0, 4, "pass"),
    ]
    assert [r.second for r in verdict.timeline] == [0, 1, 2, 3, 4, 5]
    users = verdict.metrics["users"].values
    assert users is not None
    assert users.min == 10.0


def test_users_during_a_stage_without_a_second_of_its_own_says_why() -> None:
    stages = [
        {"name": "ramp", "duration": "1500ms", "users": 10},
        {"name": "blip", "duration": "400ms", "users": 10},
        {"name": "steady", "duration": "2100ms", "users": 10},
    ]
    spec = make_spec([{"expr": "users >= 10", "during": "blip"}], stages=stages)
    rec = recorder(spec)
    rec.users(10, 0)
    verdict = judge(spec, close(rec), run_info())
    (result,) = verdict.thresholds
    assert result.status == "no_data"
    assert "no timeline second starts in stage 'blip' (0.4s)" in result.message


def test_p99_9_of_1000_samples_is_the_999th() -> None:
    """The percentile is taken as written: 99.9% of 1,000 is exactly 999, not 999.0000001."""

    def slowest_two(rec: Recorder) -> None:
        rec.users(1, 0)
        for k in range(998):
            http(rec, "list-items", 1.0, k / 1000)
        http(rec, "list-items", 1.5, 0.9985)
        http(rec, "list-items", 1.9, 0.999)

    result = only(judged(["p99.9(http) < 1.8ms"], slowest_two))
    assert result.observed == 1.5
    assert result.passed is True


@pytest.mark.parametrize(
    ("expr", "passed"),
    [
        ("success_rate(http) > 99%", False),
        ("success_rate(http) >= 99%", True),
        ("error_rate(http) <= 1%", True),
        ("error_rate(http) < 1%", False),
    ],
)
def test_percent_unit_exact_boundary(expr: str, passed: bool) -> None:
    def one_in_a_hundred(rec: Recorder) -> None:
        for k in range(100):
            http(rec, "list-items", 5.0, k / 25, key="status_500" if k == 50 else "ok")

    result = only(judged([expr], one_in_a_hundred))
    assert result.observed in (99.0, 1.0)
    assert result.unit == "%"
    assert result.passed is passed


@pytest.mark.parametrize(
    ("expr", "passed"), [("max(process.rss) <= 1000KB", True), ("max(process.rss) < 1000KB", False)]
)
def test_size_unit_exact_boundary(expr: str, passed: bool) -> None:
    def rss(rec: Recorder) -> None:
        steady_1500us(rec)
        for second in range(4):
            rec.gauge("process.rss", (925 + 25 * second) * 1024, second * NS_PER_S)

    result = only(judged([expr], rss))
    assert result.observed == 1000 * 1024
    assert result.unit == "B"
    assert result.samples == 4
    assert result.passed is passed
    assert result.message.startswith("max(process.rss) = 1,000 KB, limit ")


def test_process_threshold_without_samples_fails() -> None:
    result = only(judged(["max(process.rss) < 512MB"], steady_1500us))
    assert result.status == "no_data"
    assert "not sampled" in result.message


def test_rate_count_and_users() -> None:
    verdict = judged(
        ["rate(http) >= 25/s", "count(http) >= 100", "users >= 10", "min(users) > 9"],
        steady_1500us,
    )
    observed = [(t.observed, t.passed) for t in verdict.thresholds]
    assert observed == [(25.0, True), (100.0, True), (10.0, True), (10.0, True)]


def test_warn_threshold_that_misses_does_not_fail_the_run() -> None:
    verdict = judged([{"expr": "p95(http) < 1ms", "severity": "warn"}], steady_1500us)
    result = only(verdict)
    assert (result.status, result.passed) == ("warn", False)
    assert verdict.status == "pass"
    assert verdict.exit_code == 0


def test_during_judges_only_that_stage() -> None:
    def slow_second_stage(rec: Recorder) -> None:
        for k in range(40):
            http(rec, "list-items", 10.0 if k < 20 else 300.0, k / 10)

    verdict = judged(
        [
            {"expr": "max(http) < 20ms", "during": "ramp"},
            {"expr": "min(http) > 250ms", "during": "steady"},
        ],
        slow_second_stage,
    )
    ramp, steady = verdict.thresholds
    assert (ramp.samples, ramp.passed, ramp.window_s) == (20, True, 2.0)
    assert (steady.samples, steady.passed) == (20, True)
    assert steady.message.endswith("during steady")


def test_aborted_run_skips_stages_never_reached_and_keeps_what_was_measured() -> None:
    def first_second_only(rec: Recorder) -> None:
        for k in range(10):
            http(rec, "list-items", 5.0, k / 10)

    verdict = judged(
        ["p95(http) < 200ms", {"expr": "p95(http) < 200ms", "during": "steady"}],
        first_second_only,
        elapsed_s=1.0,
        aborted=True,
    )
    whole, steady = verdict.thresholds
    assert (whole.status, whole.samples) == ("pass", 10)
    assert whole.window_s == 1.0
    assert (steady.status, steady.passed) == ("skipped", None)
    assert "aborted before stage 'steady'" in steady.message
    assert verdict.status == "aborted"
    assert verdict.exit_code == 3
    assert verdict.recording is not None


def test_validity_dropped_and_late_arrivals_beyond_one_percent() -> None:
    spec = make_spec(["p95(http) < 200ms"], stages=OPEN_STAGES)
    rec = known_run(spec)
    rec.generator.planned = 200
    for k in range(2):
        rec.dropped(k * NS_PER_S)
    within = judge(spec, close(rec), run_info())
    assert within.validity.valid  # 2 of 200 is 1%: on the bound, not beyond it
    rec2 = known_run(spec)
    rec2.generator.planned = 200
    for k in range(2):
        rec2.dropped(k * NS_PER_S)
    rec2.send_lateness(30 * 1_000_000, NS_PER_S, late=True)
    verdict = judge(spec, close(rec2), run_info())
    assert verdict.status == "invalid"
    assert verdict.exit_code == 4
    assert (verdict.validity.dropped, verdict.validity.late) == (2, 1)
    assert verdict.validity.reasons == [
        "the generator did not deliver the planned arrivals: 2 dropped and 1 late of 200 "
        "planned (1.5%, bound 1%)"
    ]


def test_validity_generator_cpu_and_loop_lag() -> None:
    spec = make_spec(["p95(http) < 200ms"])
    rec = known_run(spec)
    for _ in range(10):
        rec.generator_cpu(97.0)
        rec.loop_lag(80 * 1_000_000)
    verdict = judge(spec, close(rec), run_info())
    assert verdict.status == "invalid"
    cpu, lag = verdict.validity.reasons
    assert cpu.startswith("the generator's CPU was saturated: p90 of its 14 samples was 97")
    assert lag.startswith("the generator's event loop lagged: p99 80")
    assert verdict.validity.bounds["max_loop_lag_p99_ms"] == 50.0


def test_secrets_never_reach_the_verdict() -> None:
    spec = make_spec(["p95(http) < 200ms"])
    rec = known_run(spec)
    rec.note(f"token {SECRET} rejected once")
    run = run_info(base_url=f"http://u:{SECRET}@h/", warnings=(f"x {SECRET}",))
    verdict = judge(spec, close(rec), run, secrets=frozenset({SECRET}))
    assert SECRET not in verdict.model_dump_json()
    assert verdict.run.base_url == "http://u:***@h/"


def test_min_ignores_series_without_latency() -> None:
    def mixed(rec: Recorder) -> None:
        http(rec, "create-order", None, 0.1, key="connect_error")
        http(rec, "list-items", 1.5, 0.2)

    result = only(judged(["min(http) >= 1.5ms"], mixed))
    assert (result.observed, result.samples, result.passed) == (1.5, 1, True)


@pytest.mark.parametrize(
    ("observed", "limit", "unit", "text"),
    [
        (99.899, 99.9, "%", "99.899%"),
        (200.04, 200.0, "ms", "200.04 ms"),
        (512 * 1024**2 + 1000, 512 * 1024**2, "B", "512.001 MB"),
        (5.0001, 5.0, "", "5.0001"),
        (245.3, 200.0, "ms", "245.3 ms"),
        (200.0, 200.0, "ms", "200 ms"),
    ],
)
def test_an_observed_value_never_reads_as_its_limit(
    observed: float, limit: float, unit: str, text: str
) -> None:
    assert numbers.observed(observed, limit, unit) == text


@pytest.mark.parametrize(
    ("expr", "limit"),
    [("rate(http) > 1/h", 0.000278), ("rate(http) > 1/m", 0.0167), ("p95(http) < 1ms", 1.0)],
)
def test_limits_are_stored_rounded_as_observed_values_are(expr: str, limit: float) -> None:
    """``rate(http) > 1/h`` stored its limit as 0.0002777777777777778; rounded to the
    rate's thousandth it would read 0 and move the limit, so it keeps three significant
    digits, as the message shows it."""
    result = only(judged([expr], steady_1500us))
    assert result.limit == limit


def test_users_statistics_are_of_the_per_second_peaks_as_documented() -> None:
    """README says what min/mean(users) judge: the most users held in each second of the
    window (from the 10 ms samples). A 3 s ramp to 10 then 3 s at 10: the seconds' peaks
    are 3, 6, 9, 10, 10, 10, so min 3 and mean 8 (the planned time average is 7.25)."""
    stages = [
        {"name": "ramp", "duration": "3s", "users": 10},
        {"name": "steady", "duration": "3s", "users": 10},
    ]
    spec = make_spec(["min(users) >= 1", "mean(users) >= 1", "max(users) >= 1"], stages=stages)
    rec = recorder(spec)
    plan = build_plan(spec)
    for t in range(0, plan.duration_ns, 10_000_000):  # the engine samples every 10 ms
        rec.users(plan.users_at(t), t)
    verdict = judge(spec, close(rec, elapsed_s=6.0), run_info())
    assert [(t.observed, t.samples) for t in verdict.thresholds] == [(3, 6), (8, 6), (10, 6)]
