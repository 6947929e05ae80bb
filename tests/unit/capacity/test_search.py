"""The capacity search, driven by a fake ``measure``: a level holds up to a known capacity.

The search is pure (it decides the next level; the caller measures), so it is tested here
exhaustively against services whose behaviour is a rule; the real measurement is tested
against a real service in tests/integration/test_capacity.py.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sla_runner.capacity.search import (
    Ladder,
    Resolution,
    SearchResult,
    StepOutcome,
    StepResult,
    search,
)

Fake = Callable[[int], StepResult[None]]


def service(capacity: int, generator_limit: int | None = None, dies_at: int | None = None) -> Fake:
    """Holds every level up to ``capacity``; the generator cannot deliver from
    ``generator_limit`` up; the service stops answering from ``dies_at`` up."""

    def measure(level: int) -> StepResult[None]:
        outcome: StepOutcome = "held" if level <= capacity else "broke"
        if generator_limit is not None and level >= generator_limit:
            outcome = "invalid"
        if dies_at is not None and level >= dies_at:
            outcome = "dead"
        return StepResult(level, outcome, None)

    return measure


def levels(result: SearchResult[None]) -> list[int]:
    return [s.level for s in result.steps]


def test_a_geometric_ladder_multiplies_rounds_and_ends_at_its_top() -> None:
    assert Ladder(10, 400, factor=Fraction(2)).levels() == [10, 20, 40, 80, 160, 320, 400]
    assert Ladder(1, 5, factor=Fraction(3, 2)).levels() == [1, 2, 3, 5]  # at least +1 each
    assert Ladder(7, 7, factor=Fraction(2)).levels() == [7]


def test_a_linear_ladder_adds_and_ends_at_its_top() -> None:
    assert Ladder(10, 45, increment=10).levels() == [10, 20, 30, 40, 45]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": 0, "stop": 5, "factor": Fraction(2)}, "1 <= start <= stop"),
        ({"start": 5, "stop": 4, "factor": Fraction(2)}, "1 <= start <= stop"),
        ({"start": 1, "stop": 5, "factor": Fraction(1)}, "more than 1"),
        ({"start": 1, "stop": 5, "increment": 0}, "at least 1"),
        ({"start": 1, "stop": 5}, "exactly one"),
    ],
)
def test_a_ladder_that_cannot_climb_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Ladder(**kwargs)  # type: ignore[arg-type]


def test_resolution_is_relative_to_the_level_that_held_or_absolute() -> None:
    five = Resolution(percent=Fraction(5))
    assert five.reached(200, 210)
    assert not five.reached(200, 211)
    assert five.reached(3, 4)  # one apart: nothing between to measure
    assert Resolution(absolute=10).reached(200, 210)
    assert not Resolution(absolute=10).reached(200, 211)


def test_ramp_then_bisection_finds_the_capacity_to_the_resolution() -> None:
    result = search(service(137), Ladder(10, 400, factor=Fraction(2)), Resolution(Fraction(5)))
    assert levels(result)[:6] == [10, 20, 40, 80, 160, 120]  # ramp to the first break, bisect
    assert result.stop == "resolved"
    assert result.capacity == 137 or (result.capacity or 0) < 137
    bad = result.first_bad
    assert bad is not None
    assert bad.level > 137 >= (result.capacity or 0)
    assert Resolution(Fraction(5)).reached(result.capacity or 0, bad.level)
    assert not result.at_least


@settings(max_examples=300, deadline=None)
@given(
    capacity=st.integers(1, 2000),
    start=st.integers(1, 50),
    top=st.integers(50, 1500),
    geometric=st.booleans(),
    factor=st.fractions(Fraction(11, 10), Fraction(4)),
    increment=st.integers(1, 300),
    percent=st.fractions(Fraction(1, 2), Fraction(30)),
)
def test_any_monotone_service_is_bracketed_within_the_resolution_never_above_to(
    capacity: int,
    start: int,
    top: int,
    geometric: bool,
    factor: Fraction,
    increment: int,
    percent: Fraction,
) -> None:
    ladder = (
        Ladder(start, top, factor=factor) if geometric else Ladder(start, top, increment=increment)
    )
    resolution = Resolution(percent=percent)
    result = search(service(capacity), ladder, resolution)
    measured = levels(result)
    assert max(measured) <= top
    assert len(measured) == len(set(measured)), "a level measured twice"
    if capacity < start:
        assert result.stop == "below_start"
        assert result.capacity is None
        assert measured == [start]
    elif capacity >= top:
        assert result.stop == "top"
        assert result.capacity == top
        assert result.at_least
        assert measured == ladder.levels()
    else:
        assert result.stop == "resolved"
        found, bad = result.capacity, result.first_bad
        assert found is not None
        assert bad is not None
        assert found <= capacity < bad.level
        assert resolution.reached(found, bad.level)
        ramp = [lv for lv in ladder.levels() if lv <= capacity]
        ramp_broke = next(lv for lv in ladder.levels() if lv > capacity)
        assert measured[: len(ramp) + 1] == [*ramp, ramp_broke]
        # bisection halves the ramp's gap each step: no more steps than the gap has bits
        bisected = len(measured) - len(ramp) - 1
        assert bisected <= (ramp_broke - ramp[-1]).bit_length()


def test_bisection_takes_about_log2_of_the_gap() -> None:
    result = search(service(700), Ladder(1000, 1000, factor=Fraction(2)), Resolution(absolute=1))
    assert result.stop == "below_start"  # nothing held: no bracket to bisect
    result = search(service(700), Ladder(1, 1024, factor=Fraction(1024)), Resolution(absolute=1))
    assert levels(result)[:2] == [1, 1024]
    assert result.capacity == 700
    assert len(result.steps) - 2 <= (1024 - 1).bit_length()


def test_an_invalid_step_ends_the_search_as_at_least_the_last_level_that_held() -> None:
    result = search(
        service(500, generator_limit=150),
        Ladder(10, 400, factor=Fraction(2)),
        Resolution(Fraction(5)),
    )
    assert levels(result) == [10, 20, 40, 80, 160]
    assert result.stop == "generator"
    assert result.capacity == 80
    assert result.generator_limit == 160
    assert result.at_least
    assert result.first_bad is None  # the generator's failure is none of the service's


def test_an_invalid_step_during_bisection_also_ends_the_search() -> None:
    def flaky_generator(level: int) -> StepResult[None]:
        outcome: StepOutcome = "invalid" if level == 120 else "held" if level <= 130 else "broke"
        return StepResult(level, outcome, None)

    result = search(flaky_generator, Ladder(10, 400, factor=Fraction(2)), Resolution(Fraction(1)))
    assert levels(result) == [10, 20, 40, 80, 160, 120]
    assert result.stop == "generator"
    assert (result.capacity, result.generator_limit) == (80, 120)
    assert result.at_least


def test_a_dead_service_ends_the_search_at_once() -> None:
    result = search(
        service(500, dies_at=150), Ladder(10, 400, factor=Fraction(2)), Resolution(Fraction(5))
    )
    assert levels(result) == [10, 20, 40, 80, 160]
    assert result.stop == "dead"
    assert result.capacity == 80
    bad = result.first_bad
    assert bad is not None
    assert (bad.level, bad.outcome) == (160, "dead")
    assert not result.at_least  # it broke above 80: the service did, not the generator


def test_a_service_dead_from_the_start_has_no_capacity() -> None:
    result = search(
        service(500, dies_at=1), Ladder(10, 400, factor=Fraction(2)), Resolution(Fraction(5))
    )
    assert (levels(result), result.stop, result.capacity) == ([10], "dead", None)
    assert result.at_least is False


def test_every_level_held_gives_at_least_to_and_never_more() -> None:
    result = search(service(10_000), Ladder(10, 400, increment=100), Resolution(Fraction(5)))
    assert levels(result) == [10, 110, 210, 310, 400]
    assert (result.stop, result.capacity, result.at_least) == ("top", 400, True)


def test_the_promised_level_is_measured_when_the_resolution_leaves_it_undecided() -> None:
    ladder, resolution = Ladder(50, 200, factor=Fraction(2)), Resolution(Fraction(10))
    without = search(service(104), ladder, resolution)
    assert (without.capacity, without.first_bad and without.first_bad.level) == (100, 106)
    # 103 is between 100 (held) and 106 (broke): measured, it holds
    promised = search(service(104), ladder, resolution, decide=103)
    assert levels(promised) == [*levels(without), 103]
    assert promised.capacity == 103
    assert promised.outcome_at(103) == "held"
    # a promise the search measured already is not measured again
    again = search(service(104), ladder, resolution, decide=100)
    assert levels(again) == levels(without)


def test_a_measure_that_answers_for_another_level_is_refused() -> None:
    def wrong(level: int) -> StepResult[None]:
        return StepResult(level + 1, "held", None)

    with pytest.raises(ValueError, match="asked to measure level 10"):
        search(wrong, Ladder(10, 20, increment=5), Resolution(Fraction(5)))
