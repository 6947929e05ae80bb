"""A search's outcome: status and exit code, the message, the promise, what broke, phases."""

from __future__ import annotations

import pytest

from sla_runner.capacity.outcome import PromisedLevel
from tests.unit.capacity.docs import ended, searched, step

PROMISE_80 = PromisedLevel("default", 80, "users")
PROMISE_120 = PromisedLevel("default", 120, "users")


def test_a_resolved_search_passes_with_the_highest_level_that_held() -> None:
    doc = searched(capacity=100)
    assert (doc.status, doc.exit_code, doc.stop) == ("pass", 0, "resolved")
    assert doc.capacity == 100
    assert doc.breaks_at is not None
    assert 100 < doc.breaks_at <= 105
    assert doc.at_least is False
    assert doc.message == f"capacity: 100 users (every threshold held; {doc.breaks_at} users broke)"
    assert [b.expr for b in doc.broke] == ["p95(http) < 200ms"]
    assert doc.broke[0].level == doc.breaks_at
    assert doc.findings[0] == (
        "first to break above the capacity: p95(http) = 250 ms, limit < 200 ms "
        "(outside the limit by 25%)"
    )
    assert [s.phase for s in doc.steps[:5]] == ["ramp"] * 5  # 10, 20, 40, 80, 160
    assert {s.phase for s in doc.steps[5:]} == {"bisect"}


def test_every_level_held_is_at_least_to() -> None:
    doc = searched(capacity=10_000)
    assert (doc.status, doc.stop, doc.capacity, doc.at_least) == ("pass", "top", 160, True)
    assert doc.message == "capacity is at least 160 users: every level up to --to 160 users held"


def test_a_first_level_that_breaks_fails() -> None:
    doc = searched(capacity=5)
    assert (doc.status, doc.exit_code, doc.stop, doc.capacity) == ("fail", 1, "below_start", None)
    assert doc.message == "capacity is below --from 10 users: it broke already"


def test_the_generator_limit_is_invalid_and_says_at_least() -> None:
    doc = searched({80: "invalid"})
    assert (doc.status, doc.exit_code, doc.stop) == ("invalid", 4, "generator")
    assert (doc.capacity, doc.generator_limit, doc.at_least) == (40, 80, True)
    assert (
        doc.message == "capacity is at least 40 users; the generator limit was reached at 80 users"
    )
    assert doc.broke == []  # nothing of the service broke


def test_a_dead_service_fails() -> None:
    doc = searched({80: "dead"})
    assert (doc.status, doc.exit_code, doc.stop, doc.capacity) == ("fail", 1, "dead", 40)
    assert doc.message == (
        "capacity: 40 users; the service stopped answering at 80 users (the search stopped there)"
    )


def test_a_promise_a_dead_service_misses_says_it_died_rather_than_broke() -> None:
    doc = searched({80: "dead"}, capacity=100, promised=PromisedLevel("default", 100, "users"))
    assert doc.promise is not None
    assert (doc.status, doc.exit_code, doc.promise.holds) == ("fail", 1, False)
    assert doc.promise.message == (
        "capacity >= 100 users does not hold: the service stopped answering at 80 users"
    )


def test_a_promise_decides_the_status_whatever_else_happened() -> None:
    held = searched(capacity=100, promised=PROMISE_80)
    assert held.promise is not None
    assert (held.status, held.promise.holds) == ("pass", True)
    assert held.promise.expr == "capacity >= 80 users"
    missed = searched(capacity=100, promised=PROMISE_120)
    assert missed.promise is not None
    assert (missed.status, missed.exit_code, missed.promise.holds) == ("fail", 1, False)
    assert missed.promise.message.startswith("capacity >= 120 users does not hold")
    # the generator's limit after the promise was shown: the promise holds
    shown = searched({160: "invalid"}, capacity=100, promised=PROMISE_80)
    assert (shown.status, shown.stop) == ("pass", "generator")
    # ... before it: undecided, invalid
    undecided = searched({80: "invalid"}, capacity=100, promised=PROMISE_80)
    assert undecided.promise is not None
    assert (undecided.status, undecided.exit_code, undecided.promise.holds) == ("invalid", 4, None)


def test_the_promised_level_is_measured_and_called_so() -> None:
    doc = searched(capacity=103, promised=PromisedLevel("default", 102, "users"))
    assert doc.step_at(102) is not None
    assert doc.step_at(102).phase == "promise"  # type: ignore[union-attr]
    assert doc.promise is not None
    assert doc.promise.holds is True


@pytest.mark.parametrize("stop", ["aborted", "error"])
def test_a_search_ended_by_an_exception_keeps_its_steps_and_exits_3(stop: str) -> None:
    doc = ended(stop, [step(10, "held")], error="boom" if stop == "error" else None)  # type: ignore[arg-type]
    assert (doc.status, doc.exit_code) == (stop, 3)
    assert doc.capacity == 10
    assert doc.message == (
        "boom"
        if stop == "error"
        else "the search was interrupted; the highest level that held: 10 users"
    )


def test_the_knee_of_the_curve_is_a_finding() -> None:
    steps = [step(10, "held", 50.0), step(20, "held", 51.0), step(40, "held", 52.0)]
    steps += [step(80, "broke", 300.0)]
    doc = ended("aborted", steps)
    assert doc.knee is not None
    assert doc.knee.level == 40
    resolved = searched(capacity=100)
    knee = resolved.knee
    assert knee is not None  # p95 50 ms up to 100, 250 ms above
    assert knee.level == 100
    assert knee.message in resolved.findings
