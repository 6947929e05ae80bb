"""Validity: which failures stand in a run whose generator could not keep up.

Recordings are made with the real Recorder; the generator's own figures (CPU, loop lag)
are recorded the way the engine records them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sla_runner.api import merge_verdicts
from sla_runner.judge.verdicts import judge
from sla_runner.metrics.recorder import Recorder
from sla_runner.plan import Segment
from sla_runner.report.json_report import write_json
from sla_runner.timeunits import NS_PER_MS, NS_PER_S
from sla_runner.verdict import Verdict
from tests.unit.verdict_data import close, http, make_spec, recorder, run_info

RATE = "success_rate(http) > 99%"
LATENCY = "p95(http) < 100ms"


def saturated(rec: Recorder) -> None:
    for _ in range(20):
        rec.generator_cpu(99.5)
        rec.loop_lag(1 * NS_PER_MS)


def lagging(rec: Recorder) -> None:
    for _ in range(20):
        rec.generator_cpu(99.5)
        rec.loop_lag(200 * NS_PER_MS)


def run_of(failures: dict[str, int], *, generator: Any = saturated, ok_ms: float = 5.0) -> Any:
    """100 requests: ``failures`` of each kind, the rest answered ok in ``ok_ms``."""

    def fill(rec: Recorder) -> None:
        rec.users(10, 0)
        kinds = [kind for kind, n in failures.items() for _ in range(n)]
        for k in range(100):
            key = kinds[k] if k < len(kinds) else "ok"
            answered = key.startswith("status_") or key in ("ok", "body_mismatch", "timeout")
            http(rec, "list-items", ok_ms if answered else None, k / 25, key)
        generator(rec)

    return fill


def judged(thresholds: list[Any], fill: Any) -> Verdict:
    spec = make_spec(thresholds)
    rec = recorder(spec)
    fill(rec)
    return judge(spec, close(rec), run_info())


@pytest.mark.parametrize(
    "kind", ["status_500", "status_404", "body_mismatch", "connect_error", "reset", "tls_error"]
)
def test_a_failure_of_the_services_own_answers_stands_under_a_saturated_generator(
    kind: str,
) -> None:
    verdict = judged([RATE, LATENCY], run_of({kind: 5}))
    assert verdict.status == "fail"
    assert verdict.exit_code == 1
    assert not verdict.validity.valid
    assert verdict.validity.reasons[0].startswith("the generator's CPU was saturated")
    rate, latency = verdict.thresholds
    assert (rate.status, rate.trusted) == ("fail", True)
    assert (latency.status, latency.trusted) == ("pass", False)  # a pass never stands
    assert verdict.message is not None
    assert "success_rate(http) > 99% failed on the service's own answers" in verdict.message


def test_timeouts_under_a_saturated_generator_stay_invalid() -> None:
    """A timeout is measured on the generator's clock: a saturated loop may cause it."""
    verdict = judged([RATE], run_of({"timeout": 5}))
    assert verdict.status == "invalid"
    assert verdict.exit_code == 4
    assert verdict.thresholds[0].trusted is False


def test_latency_failures_under_a_saturated_generator_stay_invalid() -> None:
    verdict = judged([LATENCY, RATE], run_of({}, ok_ms=300.0))
    assert verdict.status == "invalid"
    latency, rate = verdict.thresholds
    assert (latency.status, latency.trusted) == ("fail", False)
    assert (rate.status, rate.trusted) == ("pass", False)
    assert verdict.message == "the run is invalid: " + "; ".join(verdict.validity.reasons)


def test_a_failure_stands_only_on_the_services_answers_alone() -> None:
    """3 HTTP 500s and 3 timeouts of 100: 94% measured. Counting the timeouts as successes
    gives 97%: it fails ``> 99%`` all the same, but holds ``> 95%``."""
    fill = run_of({"status_500": 3, "timeout": 3})
    assert judged(["success_rate(http) > 99%"], fill).status == "fail"
    loose = judged(["success_rate(http) > 95%"], fill)
    assert loose.thresholds[0].status == "fail"  # as measured: 94%
    assert loose.status == "invalid"
    error_rate = judged(["error_rate(http) < 5%"], fill)  # 3% on the service's answers alone
    assert error_rate.status == "invalid"


def test_connect_errors_and_resets_do_not_stand_when_the_loop_lagged() -> None:
    """A connect that timed out counts as a connect error: a stalled loop can cause it."""
    for kind in ("connect_error", "reset"):
        assert judged([RATE], run_of({kind: 5}, generator=lagging)).status == "invalid"
    assert judged([RATE], run_of({"status_503": 5}, generator=lagging)).status == "fail"


def test_dropped_arrivals_do_not_hide_the_services_errors() -> None:
    stages = [{"name": "steady", "duration": "4s", "rate": "25/s"}]
    spec = make_spec([RATE], stages=stages)
    rec = recorder(spec)
    run_of({"status_502": 10}, generator=lambda _rec: None)(rec)
    rec.generator.planned = 100
    for k in range(5):
        rec.dropped(k * NS_PER_S // 2)
    verdict = judge(spec, close(rec), run_info())
    assert verdict.validity.reasons[0].startswith("the generator did not deliver")
    assert verdict.status == "fail"


def test_a_warn_threshold_that_stands_does_not_fail_the_run() -> None:
    verdict = judged([{"expr": RATE, "severity": "warn"}, LATENCY], run_of({"status_500": 5}))
    assert verdict.thresholds[0].trusted is True
    assert verdict.status == "invalid"


def test_a_merged_partss_loop_lag_is_not_diluted(tmp_path: Path) -> None:
    """Two segments; one lagged. Pooled, the lag's p99 falls within the bound, but its
    connect errors may be the stalled loop's: they do not stand in the merge."""
    spec = make_spec([RATE])
    paths = []
    for part in (1, 2):
        rec = recorder(spec, Segment(part, 2))
        run_of({"connect_error": 5}, generator=lagging if part == 1 else saturated)(rec)
        for _ in range(3000 if part == 2 else 0):
            rec.loop_lag(1 * NS_PER_MS)
        verdict = judge(spec, close(rec), run_info(segment=f"{part}/2"))
        paths.append(write_json(tmp_path / f"part{part}.json", verdict))
    merged = merge_verdicts(paths, None)
    assert (merged.validity.loop_lag_p99_ms or 0) <= 50
    assert merged.status == "invalid"
