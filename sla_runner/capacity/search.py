"""Which load level to measure next: a coarse ramp, then bisection. Pure: no clock, no I/O.

The search is handed a ``measure(level) -> StepResult`` callable (the caller runs the load;
the search only decides). It measures the ramp's levels in order (``--from`` up to ``--to``,
each the previous times a factor, or plus an increment, the last always ``--to``) until one
breaks a threshold; then it bisects between the last level that held and the first that
broke until they are within the resolution (a percentage of the level that held, or an
absolute number), or one apart. The capacity is the highest level that held.

It stops at once, whatever is left to measure:

- on a step whose run was invalid (the generator could not deliver it): that is no fact
  about the service, so the result is "at least" the last level that held, and the level
  the generator failed at is its limit;
- on a dead service (``--fail-fast`` stopped the step: no request succeeded for a second);
- when every level of the ramp held: the capacity is at least ``--to`` (never exceeded).

A level the caller must decide (the spec's promise, ``capacity: {users: ">= 100"}``) is
measured when the search would otherwise finish with it between the level that held and
the one that broke, so the promise is judged on a measurement, not on the resolution.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Generic, Literal, TypeVar

__all__ = [
    "Ladder",
    "Resolution",
    "SearchResult",
    "StepOutcome",
    "StepResult",
    "Stop",
    "search",
    "searching",
]

StepOutcome = Literal["held", "broke", "invalid", "dead"]
"""held: every threshold held; broke: one failed; invalid: the generator could not deliver
the step (no fact about the service); dead: the service stopped answering."""

Stop = Literal["resolved", "top", "below_start", "generator", "dead"]
"""Why the search ended: the capacity is known to the resolution; every level up to ``--to``
held; the first level broke already; the generator's limit came first; the service died."""

Detail = TypeVar("Detail")


@dataclass(frozen=True)
class StepResult(Generic[Detail]):
    """What measuring one level came to; ``detail`` is the caller's (figures, thresholds)."""

    level: int
    outcome: StepOutcome
    detail: Detail


@dataclass(frozen=True)
class Ladder:
    """The coarse ramp: from ``start`` to ``stop`` (both included), each level the previous
    times ``factor`` (geometric) or plus ``increment`` (linear), at least one more."""

    start: int
    stop: int
    factor: Fraction | None = None
    increment: int | None = None

    def __post_init__(self) -> None:
        if self.start < 1 or self.stop < self.start:
            raise ValueError(f"need 1 <= start <= stop, got {self.start}..{self.stop}")
        if (self.factor is None) == (self.increment is None):
            raise ValueError("give exactly one of factor or increment")
        if self.factor is not None and self.factor <= 1:
            raise ValueError(f"a geometric step multiplies by more than 1, got {self.factor}")
        if self.increment is not None and self.increment < 1:
            raise ValueError(f"a linear step adds at least 1, got {self.increment}")

    def levels(self) -> list[int]:
        out = [self.start]
        while out[-1] < self.stop:
            out.append(min(self.next_after(out[-1]), self.stop))
        return out

    def next_after(self, level: int) -> int:
        if self.factor is not None:
            return max(level + 1, math.floor(level * self.factor + Fraction(1, 2)))
        assert self.increment is not None
        return level + self.increment


@dataclass(frozen=True)
class Resolution:
    """When bisection is done: the level that broke is within ``percent`` % of the level
    that held (relative), or within ``absolute`` of it; levels one apart always are."""

    percent: Fraction | None = None
    absolute: int | None = None

    def __post_init__(self) -> None:
        if (self.percent is None) == (self.absolute is None):
            raise ValueError("give exactly one of percent or absolute")
        if self.percent is not None and self.percent <= 0:
            raise ValueError(f"a resolution is above 0%, got {self.percent}%")
        if self.absolute is not None and self.absolute < 1:
            raise ValueError(f"an absolute resolution is at least 1, got {self.absolute}")

    def reached(self, held: int, broke: int) -> bool:
        gap = broke - held
        if gap <= 1:
            return True
        if self.percent is not None:
            return gap * 100 <= held * self.percent
        assert self.absolute is not None
        return gap <= self.absolute

    def __str__(self) -> str:
        if self.percent is not None:
            return f"{float(self.percent):g}%"
        return str(self.absolute)


@dataclass(frozen=True)
class SearchResult(Generic[Detail]):
    steps: tuple[StepResult[Detail], ...]  # in the order measured
    stop: Stop

    @property
    def capacity(self) -> int | None:
        """The highest level that held; None when none did."""
        held = [s.level for s in self.steps if s.outcome == "held"]
        return max(held) if held else None

    @property
    def first_bad(self) -> StepResult[Detail] | None:
        """The lowest level above the capacity that broke or found the service dead."""
        floor = self.capacity or 0
        bad = [s for s in self.steps if s.outcome in ("broke", "dead") and s.level > floor]
        return min(bad, key=lambda s: s.level) if bad else None

    @property
    def generator_limit(self) -> int | None:
        """The level the generator could not deliver, when that ended the search."""
        invalid = [s.level for s in self.steps if s.outcome == "invalid"]
        return min(invalid) if invalid else None

    @property
    def at_least(self) -> bool:
        """Whether the capacity is only a lower bound: nothing above it broke."""
        return self.stop in ("top", "generator") or (self.stop == "dead" and self.first_bad is None)

    def outcome_at(self, level: int) -> StepOutcome | None:
        return next((s.outcome for s in self.steps if s.level == level), None)


@dataclass
class _State:
    ladder: Ladder
    resolution: Resolution
    decide: int | None
    steps: list[StepResult[object]] = field(default_factory=list)

    @property
    def held(self) -> int | None:
        levels = [s.level for s in self.steps if s.outcome == "held"]
        return max(levels) if levels else None

    @property
    def broke(self) -> int | None:
        levels = [s.level for s in self.steps if s.outcome == "broke"]
        return min(levels) if levels else None


Planner = Generator[int | Stop, "StepResult[object]", None]
"""Yields the next level to measure (sent its result back), or, last, why it stopped."""


def searching(ladder: Ladder, resolution: Resolution, decide: int | None = None) -> Planner:
    """The search as a generator: it yields the next level to measure and is sent its
    :class:`StepResult`; its last item is why it stopped. :func:`search` drives it."""
    state = _State(ladder, resolution, decide)

    def measured(level: int) -> Planner:
        state.steps.append((yield level))

    for level in ladder.levels():
        yield from measured(level)
        last = state.steps[-1].outcome
        if last in ("invalid", "dead"):
            yield "generator" if last == "invalid" else "dead"
            return
        if last == "broke":
            break
    else:
        yield "top"
        return
    while True:
        held, broke = state.held, state.broke
        assert broke is not None
        if held is None:
            yield "below_start"
            return
        if decide is not None and held < decide < broke and resolution.reached(held, broke):
            level = decide
        elif resolution.reached(held, broke):
            yield "resolved"
            return
        else:
            level = (held + broke) // 2
        yield from measured(level)
        last = state.steps[-1].outcome
        if last in ("invalid", "dead"):
            yield "generator" if last == "invalid" else "dead"
            return


def search(
    measure: Callable[[int], StepResult[Detail]],
    ladder: Ladder,
    resolution: Resolution,
    decide: int | None = None,
) -> SearchResult[Detail]:
    """Measure levels as the search asks until it stops (see the module)."""
    steps: list[StepResult[Detail]] = []
    planner = searching(ladder, resolution, decide)
    item = next(planner)
    while not isinstance(item, str):
        result = measure(item)
        if result.level != item:
            raise ValueError(f"asked to measure level {item}, got a result for {result.level}")
        steps.append(result)
        item = planner.send(result)  # type: ignore[arg-type]
    return SearchResult(tuple(steps), item)
