"""An aborted run: windows it cut short are not failures of the service.

Recordings from the real Recorder, closed as the engine closes an aborted run.
"""

from __future__ import annotations

from typing import Any

import pytest

from sla_runner.judge.verdicts import judge
from sla_runner.metrics.recorder import Recorder
from sla_runner.timeunits import NS_PER_S
from sla_runner.verdict import ThresholdResult, Verdict
from tests.unit.verdict_data import close, http, make_spec, recorder, run_info

# A 10 s ramp to 10 users, then 10 s steady; Ctrl-C 3 s into the ramp, at 6 users.
STAGES = [
    {"name": "ramp", "duration": "10s", "users": 10},
    {"name": "steady", "duration": "10s", "users": 10},
]


def ramp_cut_at_3s(rec: Recorder) -> None:
    for second in range(3):
        rec.users(2 * (second + 1), second * NS_PER_S)
        for k in range(20):
            http(rec, "list-items", 20.0 + k, second + k / 20)


def aborted(thresholds: list[Any], fill: Any = ramp_cut_at_3s) -> Verdict:
    spec = make_spec(thresholds, stages=STAGES)
    rec = recorder(spec)
    fill(rec)
    return judge(spec, close(rec, elapsed_s=3.0, aborted=True), run_info())


def result(thresholds: list[Any]) -> ThresholdResult:
    (only,) = aborted(thresholds).thresholds
    return only


def test_users_of_a_ramp_cut_short_are_not_a_failure() -> None:
    """The issue's case: SIGINT during the ramp gave ``users >= 10`` FAIL (observed 6)."""
    users = result(["users >= 10"])
    assert (users.status, users.passed, users.observed) == ("skipped", None, None)
    assert users.message == (
        "users >= 10: skipped: the run was aborted after 3s of the 20s run; the load's "
        "size is judged on the whole window (6 so far)"
    )
    during = result([{"expr": "users >= 10", "during": "ramp"}])
    assert during.status == "skipped"
    assert "after 3s of the 10s stage 'ramp'" in during.message
    never = result([{"expr": "users >= 10", "during": "steady"}])
    assert never.message == "users >= 10: skipped: the run was aborted before stage 'steady'"


@pytest.mark.parametrize(
    ("expr", "status"),
    [
        ("count(http) > 1000", "skipped"),  # 60 so far: more of the window could reach it
        ("count(http) < 50", "fail"),  # 60 already: more of the window only adds
        ("count(http) > 10", "pass"),  # already held, for good
        ("users >= 4", "pass"),  # 6 held already
        ("max(users) < 5", "fail"),  # 6 held already
        ("min(users) > 3", "fail"),  # 2 at the start: a minimum only shrinks
        ("mean(users) >= 5", "skipped"),
        ("rate(http) > 100/s", "skipped"),  # 20/s of the part that ran
        ("rate(http) < 100/s", "skipped"),
    ],
)
def test_the_loads_size_is_judged_only_when_the_part_measured_decides_it(
    expr: str, status: str
) -> None:
    assert result([expr]).status == status


def test_latency_and_success_rate_are_judged_on_what_was_measured() -> None:
    verdict = aborted(
        [
            "p95(http) < 30ms",
            "success_rate(http) > 99%",
            {"expr": "p95(http) < 100ms", "during": "ramp"},
        ]
    )
    assert [(t.status, t.window_s) for t in verdict.thresholds] == [
        ("fail", 3.0),
        ("pass", 3.0),
        ("pass", 3.0),
    ]
    assert verdict.status == "aborted"


def test_no_samples_before_the_abort_is_not_a_failure() -> None:
    """An endpoint the mix had not reached yet, a process not sampled yet."""
    never_called = result(["p95(http.create-order) < 400ms"])
    assert never_called.status == "skipped"
    assert never_called.message.endswith("after 3s of the 20s run, before any sample")

    def all_refused(rec: Recorder) -> None:
        for k in range(10):
            http(rec, "list-items", None, k / 10, key="connect_error")

    # Requests were made and none was answered: that is the service's, judged as no data.
    (refused,) = aborted(["p95(http) < 30ms"], all_refused).thresholds
    assert refused.status == "no_data"


def test_a_run_that_was_not_aborted_is_judged_as_ever() -> None:
    spec = make_spec(["users >= 10"], stages=STAGES)
    rec = recorder(spec)
    ramp_cut_at_3s(rec)
    verdict = judge(spec, close(rec, elapsed_s=20.0), run_info())
    assert verdict.thresholds[0].status == "fail"
