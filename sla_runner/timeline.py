"""One scenario's timeline: its load as a pure function of time. No clock, no I/O.

A :class:`Timeline` answers, exactly, "how many users at t?" (closed model), "when is
arrival k due?" (open model), "which stage is t in?" and "which endpoint does iteration i
use?" for one scenario; :mod:`sla_runner.plan` puts the scenarios of a run side by side.
Times are nanoseconds from the run's start: a scenario's stages begin at its ``start``.

Each stage moves its level linearly from ``from_level`` to ``to_level`` over its duration
(a stage that holds has both equal; format 1's stages ramp from the previous level, as
k6's do). A segment ``i/N`` carries an exact share of the load: user slot ``j`` belongs to
segment ``j mod N``, and arrival ``k`` belongs to segment ``k mod N``, so the segments of
one timeline add up to it exactly; each segment's requests follow the whole endpoint mix
(:meth:`Timeline.arrival_endpoint`).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Literal

from sla_runner.errors import UsageError
from sla_runner.timeunits import NS_PER_S

Model = Literal["closed", "open"]


@dataclass(frozen=True)
class Segment:
    """This process's share of the load: ``index`` (1-based) of ``count``."""

    index: int = 1
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Segment:
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not match or not 1 <= int(match[1]) <= int(match[2]):
            raise UsageError(
                f"--segment: expected a segment like 1/2 (i of N, 1 <= i <= N), got {text!r}"
            )
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def share(self, total: int) -> int:
        """How many of ``total`` slots (numbered 0..total-1, dealt round-robin) are ours."""
        if total <= 0:
            return 0
        return (total - self.index + self.count) // self.count

    def split(self, parts: int) -> tuple[Segment, ...]:
        """This share dealt to ``parts`` processes (``run --workers``): segment ``i/N`` in
        ``W`` parts is segments ``i, i + N, …, i + (W − 1)·N`` of ``N·W``. Slot ``j`` is ours
        when ``j mod N = i − 1``, that is when ``j mod N·W`` is one of those, so the parts
        add up to this share exactly (``1/1`` in two: ``1/2`` and ``2/2``)."""
        if parts < 1:
            raise UsageError(f"a share is split in 1 part or more, not {parts}")
        return tuple(Segment(self.index + w * self.count, self.count * parts) for w in range(parts))

    def label(self, present: list[Segment]) -> str:
        """How a recording of the ``present`` parts of this share's split is named: this
        share when none is missing, else as ``merge`` names a partial merge (``1+3/4``)."""
        if not present or len(present) == present[0].count // self.count:
            return str(self)
        indices = "+".join(str(p.index) for p in sorted(present, key=lambda p: p.index))
        return f"{indices}/{present[0].count}"


@dataclass(frozen=True)
class PlannedStage:
    index: int  # across the whole run: the scenarios' stages in the spec's order
    name: str  # the spec's name, or "stage-<n>" (1-based; "<scenario>.stage-<n>" beside others)
    start_ns: int  # from the run's start
    end_ns: int
    from_level: Fraction  # users, or arrivals per second
    to_level: Fraction
    scenario: str = "default"
    warmup_ns: int = 0  # its first seconds, left out of the thresholds that judge it

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    def level_at(self, t_ns: int) -> Fraction:
        if self.duration_ns == 0:
            return self.to_level
        x = Fraction(min(max(t_ns - self.start_ns, 0), self.duration_ns), self.duration_ns)
        return self.from_level + (self.to_level - self.from_level) * x

    def held(self) -> int:
        """The most users of the whole timeline this stage holds for a while (closed model).

        A stage owns [start, end): a ramp reaches the level it ramps to only at the instant
        it ends (the next stage's first, or the end of the run), and leaves the level it
        ramps from at once, so it holds a whole number of users below both ends:
        ``ceil(top) - 1``. Only a stage that keeps its level holds it.
        """
        if self.from_level == self.to_level:
            return math.floor(self.from_level)
        return math.ceil(max(self.from_level, self.to_level)) - 1

    def top(self) -> int:
        """The highest whole number of users of the whole timeline this stage reaches, held
        or only at an instant (its start or its end)."""
        return math.floor(max(self.from_level, self.to_level))


@dataclass(frozen=True)
class Timeline:
    """One scenario's load: its stages (from its start offset), its model, its mix."""

    model: Model
    stages: tuple[PlannedStage, ...]
    endpoints: tuple[str, ...]  # the mix's endpoints (none for a flow or channels alone)
    channels: tuple[str, ...]
    mix: tuple[int, ...]  # a wheel of endpoint indices, interleaved by weight
    segment: Segment = Segment()
    name: str = "default"

    @property
    def start_ns(self) -> int:
        return self.stages[0].start_ns

    @property
    def end_ns(self) -> int:
        return self.stages[-1].end_ns

    @property
    def duration_ns(self) -> int:
        """When the last stage ends, from the run's start."""
        return self.end_ns

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages)

    def stage_at(self, t_ns: int) -> int:
        """Index (the run's) of this timeline's stage that holds ``t_ns``; a stage owns
        [start, end); before the first stage, the first; after the last, the last."""
        local = min(max(bisect_right(self._starts, t_ns) - 1, 0), len(self.stages) - 1)
        return self.stages[local].index

    @cached_property
    def _starts(self) -> list[int]:
        return [s.start_ns for s in self.stages]

    def _stage(self, t_ns: int) -> PlannedStage:
        local = min(max(bisect_right(self._starts, t_ns) - 1, 0), len(self.stages) - 1)
        return self.stages[local]

    def level_at(self, t_ns: int) -> Fraction:
        """Users (closed) or arrivals per second (open) of the whole timeline at ``t_ns``."""
        if t_ns < self.start_ns or t_ns > self.end_ns:
            return Fraction(0)
        return self._stage(t_ns).level_at(t_ns)

    def level_before(self, t_ns: int) -> Fraction:
        """The level just before ``t_ns`` (a stage that holds a new level starts with a jump)."""
        if t_ns <= self.start_ns or t_ns > self.end_ns:
            return Fraction(0)
        return self._stage(t_ns - 1).level_at(t_ns)

    def breakpoints(self) -> list[int]:
        return sorted({t for s in self.stages for t in (s.start_ns, s.end_ns)})

    def users_at(self, t_ns: int) -> int:
        """Virtual users this segment runs at ``t_ns`` (closed model)."""
        if self.model != "closed":
            return 0
        return self.segment.share(math.floor(self.level_at(t_ns)))

    def users_before(self, t_ns: int) -> int:
        if self.model != "closed":
            return 0
        return self.segment.share(math.floor(self.level_before(t_ns)))

    def _window(self, stage: int | None) -> tuple[PlannedStage, ...]:
        """This timeline's stages, or its one stage of run-wide index ``stage``."""
        if stage is None:
            return self.stages
        return tuple(s for s in self.stages if s.index == stage)

    def peak_users(self, stage: int | None = None) -> int:
        """The most users this segment holds for a while, over the timeline or in one stage
        (closed model): a level reached only at an instant (a last stage that ramps up to
        it, a ramp that turns straight back down) is never held."""
        window = self._window(stage)
        if self.model != "closed" or not window:
            return 0
        return self.segment.share(max(s.held() for s in window))

    def unheld_top(self, stage: int | None = None) -> tuple[int, int] | None:
        """``(users, t_ns)`` when this segment reaches more users than it holds, over the
        timeline or in one stage, only at the instant ``t_ns``; None when it holds its top."""
        window = self._window(stage)
        if self.model != "closed" or not window:
            return None
        top = max(s.top() for s in window)
        if self.segment.share(top) <= self.segment.share(max(s.held() for s in window)):
            return None
        where = next(s for s in window if s.top() == top)
        at = where.end_ns if where.to_level >= where.from_level else where.start_ns
        return self.segment.share(top), at

    def users_started(self) -> int:
        """The most users this segment starts at once (closed model): what it holds, and a
        level a stage starts from (its users are started, if only for an instant)."""
        if self.model != "closed":
            return 0
        at_once = max(max(s.held(), math.floor(s.from_level)) for s in self.stages)
        return self.segment.share(at_once)

    def held_in(self, a_ns: int, b_ns: int) -> int:
        """The most users this segment holds for a while in [a_ns, b_ns), an interval inside
        one of its stages or outside them all (closed model)."""
        if self.model != "closed" or b_ns <= self.start_ns or a_ns >= self.end_ns:
            return 0
        stage = self._stage(a_ns)
        lo, hi = stage.level_at(a_ns), stage.level_at(b_ns)
        held = math.floor(lo) if lo == hi else math.ceil(max(lo, hi)) - 1
        return self.segment.share(held)

    def peak_rate(self) -> Fraction:
        """The most arrivals per second this segment carries at any time (open model)."""
        if self.model != "open":
            return Fraction(0)
        return max(max(s.from_level, s.to_level) for s in self.stages) / self.segment.count

    def rate_at(self, t_ns: int) -> Fraction:
        """Arrivals per second this segment carries at ``t_ns`` (open model)."""
        if self.model != "open":
            return Fraction(0)
        return self.level_at(t_ns) / self.segment.count

    def rate_before(self, t_ns: int) -> Fraction:
        if self.model != "open":
            return Fraction(0)
        return self.level_before(t_ns) / self.segment.count

    def arrivals_before(self, t_ns: int) -> Fraction:
        """The whole timeline's cumulative arrivals in [start, t_ns): the integral of the rate."""
        total = Fraction(0)
        for stage in self.stages:
            if t_ns <= stage.start_ns:
                break
            x = Fraction(min(t_ns, stage.end_ns) - stage.start_ns, NS_PER_S)
            d = Fraction(stage.duration_ns, NS_PER_S)
            slope = (stage.to_level - stage.from_level) / d
            total += stage.from_level * x + slope * x * x / 2
        return total

    def total_arrivals(self) -> int:
        """Arrivals this segment makes over the whole timeline (open model)."""
        whole = math.ceil(self.arrivals_before(self.end_ns))
        return self.segment.share(whole)

    @cached_property
    def _arrival_table(self) -> tuple[tuple[float, float, int, int, float, float], ...]:
        """Per stage that carries arrivals: cumulative arrivals before and after it, its
        start and length (ns), its from- and to-rate. Built once, exactly; read as floats
        so the pacer's hot path does no Fraction arithmetic."""
        rows = []
        done = Fraction(0)
        for stage in self.stages:
            in_stage = (
                (stage.from_level + stage.to_level) * Fraction(stage.duration_ns, NS_PER_S) / 2
            )
            if in_stage > 0:
                after = done + in_stage
                a, b = float(stage.from_level), float(stage.to_level)
                rows.append((float(done), float(after), stage.start_ns, stage.duration_ns, a, b))
            done += in_stage
        return tuple(rows)

    def arrival_ns(self, k: int) -> int | None:
        """When the whole timeline's arrival ``k`` (0-based) is due, or None past the end.

        Arrival k is due when the cumulative arrivals reach k: within a stage whose rate
        goes linearly from a to b over d seconds, at the x that solves
        ``a·x + (b − a)/(2d)·x² = need``, i.e. ``x = 2·need / (a + √(a² + 2·(b − a)/d·need))``.
        """
        for before, after, start, length, a, b in self._arrival_table:
            if k < after:
                need = k - before
                if need <= 0:
                    return start
                if a == b:
                    x_s = need / a
                else:
                    slope = (b - a) / (length / NS_PER_S)
                    x_s = 2 * need / (a + math.sqrt(max(a * a + 2 * slope * need, 0.0)))
                return start + min(max(round(x_s * NS_PER_S), 0), length)
        return None

    def segment_arrival(self, n: int) -> tuple[int, int] | None:
        """This segment's n-th arrival (0-based): (global index k, due time), or None."""
        k = (self.segment.index - 1) + n * self.segment.count
        due = self.arrival_ns(k)
        if due is None or due >= self.end_ns:
            return None
        return k, due

    def endpoint_for(self, iteration: int) -> str:
        """The endpoint iteration ``iteration`` uses: the weighted mix, exactly."""
        return self.endpoints[self.mix[iteration % len(self.mix)]]

    def arrival_endpoint(self, k: int) -> str:
        """The endpoint of the whole timeline's arrival ``k``, one of this segment's.

        Each segment reads the mix wheel in order, from its own place: arrival k is the
        segment's (k // N)-th, and segment i of N starts (i − 1)/N of the way round. So
        every segment sends the whole mix in its proportions (reading the wheel at k would
        give segment i only the turns ≡ i − 1 mod N: with weights 1:1 split in two, one
        endpoint each). Together the segments read as much of the wheel as the whole plan,
        from evenly spaced places, so they add up to its mix (exactly once each has read
        whole turns, or whole N-ths of a turn when N divides the wheel).
        """
        n = k // self.segment.count
        start = (self.segment.index - 1) * len(self.mix) // self.segment.count
        return self.endpoint_for(start + n)
