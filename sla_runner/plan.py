"""Spec → Plan: the load as a pure function of time. No clock, no I/O.

The plan answers, exactly, "how many users at t?" (closed model), "when is arrival k
due?" (open model), "which stage is t in?" and "which endpoint does iteration i use?".
The engine asks; the engine sleeps.

Ramping follows k6: each stage moves its level linearly from the previous stage's
level (the first from 0) to its own over its duration. A segment ``i/N`` carries an
exact share of the load: user slot ``j`` belongs to segment ``j mod N``, and arrival
``k`` belongs to segment ``k mod N``, so the segments of one plan add up to it exactly.
Each segment's requests follow the whole endpoint mix (:meth:`Plan.arrival_endpoint`).

A stage owns [start, end), so a ramp reaches the level it ramps to only at the instant it
ends: a plan whose last stage ramps up to 10 users holds 9 at most. The peak a plan
states (:meth:`Plan.peak_users`) is the most users it holds for a while.
"""

from __future__ import annotations

import math
import operator
import re
from bisect import bisect_right
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property, lru_cache
from typing import Literal

from sla_runner.errors import PlanError, UsageError
from sla_runner.spec.models import Load, Spec
from sla_runner.spec.units import MAX_MIX_WHEEL, mix_counts
from sla_runner.timeunits import NS_PER_S


@dataclass(frozen=True)
class Segment:
    """This process's share of the load: ``index`` (1-based) of ``count``."""

    index: int = 1
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Segment:
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not match or not 1 <= int(match[1]) <= int(match[2]):
            raise UsageError(f"expected a segment like 1/2 (i of N, 1 <= i <= N), got {text!r}")
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
    index: int
    name: str  # the spec's name, or "stage-<n>" (1-based) when it has none
    start_ns: int
    end_ns: int
    from_level: Fraction  # users, or arrivals per second
    to_level: Fraction

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    def level_at(self, t_ns: int) -> Fraction:
        if self.duration_ns == 0:
            return self.to_level
        x = Fraction(min(max(t_ns - self.start_ns, 0), self.duration_ns), self.duration_ns)
        return self.from_level + (self.to_level - self.from_level) * x

    def held(self) -> int:
        """The most users of the whole plan this stage holds for a while (closed model).

        A stage owns [start, end): a ramp reaches the level it ramps to only at the instant
        it ends (the next stage's first, or the end of the run), and leaves the level it
        ramps from at once, so it holds a whole number of users below both ends:
        ``ceil(top) - 1``. Only a stage that keeps its level holds it.
        """
        if self.from_level == self.to_level:
            return math.floor(self.from_level)
        return math.ceil(max(self.from_level, self.to_level)) - 1

    def top(self) -> int:
        """The highest whole number of users of the whole plan this stage reaches, held
        or only at an instant (its start or its end)."""
        return math.floor(max(self.from_level, self.to_level))


@dataclass(frozen=True)
class Plan:
    model: Literal["closed", "open"]
    stages: tuple[PlannedStage, ...]
    endpoints: tuple[str, ...]
    channels: tuple[str, ...]
    mix: tuple[int, ...]  # a wheel of endpoint indices, interleaved by weight
    segment: Segment = Segment()

    @property
    def duration_ns(self) -> int:
        return self.stages[-1].end_ns

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages)

    def stage_at(self, t_ns: int) -> int:
        """Index of the stage that holds ``t_ns``; a stage owns [start, end)."""
        return min(max(bisect_right(self._starts, t_ns) - 1, 0), len(self.stages) - 1)

    @cached_property
    def _starts(self) -> list[int]:
        return [s.start_ns for s in self.stages]

    def level_at(self, t_ns: int) -> Fraction:
        """Users (closed) or arrivals per second (open) of the whole plan at ``t_ns``."""
        if t_ns < 0 or t_ns > self.duration_ns:
            return Fraction(0)
        return self.stages[self.stage_at(t_ns)].level_at(t_ns)

    def users_at(self, t_ns: int) -> int:
        """Virtual users this segment runs at ``t_ns`` (closed model)."""
        if self.model != "closed":
            return 0
        return self.segment.share(math.floor(self.level_at(t_ns)))

    def peak_users(self, stage: int | None = None) -> int:
        """The most users this segment holds for a while, over the run or in one stage
        (closed model): a level the plan reaches only at an instant — a last stage that
        ramps up to it, a ramp that turns straight back down — is never held."""
        if self.model != "closed":
            return 0
        stages = self.stages if stage is None else (self.stages[stage],)
        return self.segment.share(max(s.held() for s in stages))

    def unheld_top(self, stage: int | None = None) -> tuple[int, int] | None:
        """``(users, t_ns)`` when this segment reaches more users than it holds, over the run
        or in one stage, only at the instant ``t_ns``; None when it holds its top."""
        if self.model != "closed":
            return None
        stages = self.stages if stage is None else (self.stages[stage],)
        top = max(s.top() for s in stages)
        if self.segment.share(top) <= self.segment.share(max(s.held() for s in stages)):
            return None
        where = next(s for s in stages if s.top() == top)
        at = where.end_ns if where.to_level >= where.from_level else where.start_ns
        return self.segment.share(top), at

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

    def arrivals_before(self, t_ns: int) -> Fraction:
        """The whole plan's cumulative arrivals in [0, t_ns): the integral of the rate."""
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
        """Arrivals this segment makes over the whole plan."""
        whole = math.ceil(self.arrivals_before(self.duration_ns))
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
        """When the whole plan's arrival ``k`` (0-based) is due, or None past the end.

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
        if due is None or due >= self.duration_ns:
            return None
        return k, due

    def endpoint_for(self, iteration: int) -> str:
        """The endpoint iteration ``iteration`` uses: the weighted mix, exactly."""
        return self.endpoints[self.mix[iteration % len(self.mix)]]

    def arrival_endpoint(self, k: int) -> str:
        """The endpoint of the whole plan's arrival ``k``, one of this segment's.

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


@lru_cache(maxsize=8)
def _mix_wheel(weights: tuple[float, ...]) -> tuple[int, ...]:
    """Smooth weighted round robin over the exact counts: 3:1 → (0, 0, 1, 0); 1:2000 → 2001
    turns, one of them the light endpoint's.

    The counts are the weights in lowest whole numbers (:func:`mix_counts`), so each
    endpoint's share of a turn of the wheel is exactly its weight's. Each step adds every
    count to its endpoint's credit; the endpoint with the most (the first on ties) is
    picked and pays the wheel's length. Cost: one pass over the endpoints per turn, at most
    ``MAX_MIX_WHEEL`` turns (at the limit about 0.4 s for two endpoints, 1 s for sixteen),
    once per set of weights: a run and a diff build their plans more than once.
    """
    counts = mix_counts(weights)
    total = sum(counts)
    if total > MAX_MIX_WHEEL:
        raise PlanError(
            f"endpoints: the weights make a mix of {total:,} turns; "
            f"at most {MAX_MIX_WHEEL:,} are supported"
        )
    credit = [0] * len(counts)
    wheel: list[int] = []
    for _ in range(total):
        credit = list(map(operator.add, credit, counts))
        best = credit.index(max(credit))
        credit[best] -= total
        wheel.append(best)
    return tuple(wheel)


def planned_stages(load: Load) -> tuple[PlannedStage, ...]:
    """The stages of a load section on the plan's clock, each ramping from the previous
    stage's level (the first from 0)."""
    stages: list[PlannedStage] = []
    level = Fraction(0)
    start = 0
    for i, stage in enumerate(load.stages):
        target = Fraction(stage.users) if stage.users is not None else Fraction(0)
        if stage.rate is not None:
            target = stage.rate.per_s
        end = start + stage.duration.ns
        stages.append(PlannedStage(i, stage.name or f"stage-{i + 1}", start, end, level, target))
        level, start = target, end
    return tuple(stages)


def build_plan(spec: Spec, segment: Segment = Segment()) -> Plan:
    """Compile a spec's load section into a plan (one segment of it). PlanError when the
    segment would carry no load at all (``--segment 7/7`` of a plan of 6 users)."""
    names = tuple(spec.endpoints)
    weights = tuple(e.weight for e in spec.endpoints.values())
    plan = Plan(
        model=spec.load.model,
        stages=planned_stages(spec.load),
        endpoints=names,
        channels=tuple(spec.channels),
        mix=_mix_wheel(weights),
        segment=segment,
    )
    _check_segment_carries_load(plan)
    return plan


def _check_segment_carries_load(plan: Plan) -> None:
    """User slots and arrivals are dealt one by one to the segments: a segment whose turn
    never comes would send nothing and fail every threshold for want of data."""
    segment = plan.segment
    if segment.count == 1:
        return
    if plan.model == "closed":
        whole, what = max(s.held() for s in plan.stages), "holds at most {} users"
    else:
        whole, what = math.ceil(plan.arrivals_before(plan.duration_ns)), "makes {} arrivals"
    if segment.share(whole) > 0:
        return
    n = segment.count
    idle = f"segment {n}/{n} gets" if whole + 1 == n else f"segments {whole + 1}/{n} to {n}/{n} get"
    raise PlanError(
        f"segment {segment} carries no load: the plan {what.format(f'{whole:,}')}, dealt one "
        f"by one to {n} segments, so {idle} none; split the load in at most {whole:,} segments"
    )


def connections_needed(spec: Spec, plan: Plan) -> int:
    """Sockets the load may hold at once.

    Closed model: per user one HTTP connection and one per channel. Open model: the
    requests that can be in flight, ``max_in_flight`` at most, and no more than the peak
    arrival rate times the longest a request may last (connect timeout plus its timeout),
    so that a modest rate is not refused for the sake of a generous ``max_in_flight``.
    """
    if plan.model == "closed":
        per_user = (1 if spec.endpoints else 0) + len(spec.channels)
        # Also a level reached only at an instant (a stage's start): the users are started.
        at_once = max(max(s.held(), math.floor(s.from_level)) for s in plan.stages)
        return plan.segment.share(at_once) * per_user
    timeouts = [ep.timeout or spec.target.timeout for ep in spec.endpoints.values()]
    longest_s = max(t.seconds for t in [spec.target.timeout, *timeouts])
    lasting = math.ceil(plan.peak_rate() * (longest_s + spec.target.connect_timeout.seconds)) + 1
    return min(spec.load.max_in_flight, lasting)
