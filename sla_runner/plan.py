"""Spec → Plan: every scenario's timeline, side by side. Pure: no clock, no I/O.

Each scenario of the spec becomes a :class:`~sla_runner.timeline.Timeline` (its stages from
its ``start`` offset, each holding or ramping as :meth:`~sla_runner.spec.load2.LoadV2.ramps`
says; a version-1 spec is read through its conversion, so its stages ramp as version 1
always did). The run lasts until the latest scenario ends. Stage names are unique across
the scenarios and stage indices count across them, in the spec's order. A segment ``i/N``
carries an exact share of each scenario's load: user slots and arrivals are dealt
round-robin per scenario, and each segment sends every scenario's whole mix.

The engine asks the plan; the engine sleeps. A plan of one scenario answers every question
its timeline does (``plan.users_at(t)``, ``plan.arrival_ns(k)``); a plan of several answers
the run's totals (users, rates, arrivals) and hands out each scenario's timeline.

A stage owns [start, end), so a ramp reaches the level it ramps to only at the instant it
ends: a plan whose last stage ramps up to 10 users holds 9 at most. The peak a plan
states (:meth:`Plan.peak_users`) is the most users it holds for a while.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property, lru_cache
from itertools import pairwise
from typing import Literal

from sla_runner.errors import PlanError
from sla_runner.spec.convert import AnySpec, as_format2
from sla_runner.spec.data import DataError, Dealer, Table
from sla_runner.spec.format2 import Scenario, Spec
from sla_runner.spec.reach import planned_stages
from sla_runner.spec.units import MAX_MIX_WHEEL, mix_counts
from sla_runner.timeline import PlannedStage, Segment, Timeline

__all__ = [
    "Connections",
    "Plan",
    "PlannedStage",
    "Segment",
    "Timeline",
    "build_plan",
    "check_tables",
    "connection_bounds",
    "connections_needed",
    "planned_stages",
]

RunModel = Literal["closed", "open", "mixed"]


@dataclass(frozen=True)
class Plan:
    """The run's load: one timeline per scenario, in the spec's order."""

    scenarios: tuple[Timeline, ...]
    segment: Segment = Segment()

    @cached_property
    def stages(self) -> tuple[PlannedStage, ...]:
        """Every scenario's stages, by index."""
        return tuple(sorted((s for t in self.scenarios for s in t.stages), key=lambda s: s.index))

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages)

    @property
    def duration_ns(self) -> int:
        """The run's length: until the latest scenario ends."""
        return max(t.end_ns for t in self.scenarios)

    @property
    def model(self) -> RunModel:
        models = {t.model for t in self.scenarios}
        return models.pop() if len(models) == 1 else "mixed"

    def scenario(self, name: str) -> Timeline:
        return next(t for t in self.scenarios if t.name == name)

    @property
    def only(self) -> Timeline:
        """The timeline of a plan of one scenario (ValueError for a plan of several)."""
        if len(self.scenarios) != 1:
            names = ", ".join(t.name for t in self.scenarios)
            raise ValueError(f"the plan has several scenarios ({names}): ask one's timeline")
        return self.scenarios[0]

    def stage_at(self, t_ns: int) -> int:
        """The stage a timeline second starting at ``t_ns`` is shown in: the stage of the
        first scenario (in the spec's order) running at ``t_ns``; when none is, the last
        stage of the scenario that ended last before it (or the run's first stage)."""
        if len(self.scenarios) == 1:
            return self.scenarios[0].stage_at(t_ns)
        for timeline in self.scenarios:
            if timeline.start_ns <= t_ns < timeline.end_ns:
                return timeline.stage_at(t_ns)
        ended = [t for t in self.scenarios if t.end_ns <= t_ns]
        if ended:
            return max(ended, key=lambda t: t.end_ns).stages[-1].index
        return min(self.scenarios, key=lambda t: t.start_ns).stages[0].index

    def stage_reached(self, stage: int, load_ns: int) -> bool:
        """Whether a run whose load stopped at ``load_ns`` entered ``stage``."""
        start = self.stages[stage].start_ns
        return start <= load_ns or start == 0

    # -- the run's totals ------------------------------------------------------------------

    def users_at(self, t_ns: int) -> int:
        """Virtual users this segment runs at ``t_ns``, over every closed scenario."""
        return sum(t.users_at(t_ns) for t in self.scenarios)

    def rate_at(self, t_ns: int) -> Fraction:
        """Arrivals per second this segment carries at ``t_ns``, over every open scenario."""
        return sum((t.rate_at(t_ns) for t in self.scenarios), Fraction(0))

    def peak_users(self, stage: int | None = None) -> int:
        """The most virtual users this segment holds for a while, over the run or in one
        stage (a level reached only at an instant, as a last ramp's top, is never held).
        Over several scenarios: the most, between two of their stage boundaries, that
        each holds added up (exact unless one ramps up while another ramps down)."""
        if len(self.scenarios) == 1:
            return self.scenarios[0].peak_users(stage)
        if stage is not None:
            return next(
                t.peak_users(stage)
                for t in self.scenarios
                if t.stages[0].index <= stage <= t.stages[-1].index
            )
        points = self._breakpoints
        return max(
            (sum(t.held_in(a, b) for t in self.scenarios) for a, b in pairwise(points)),
            default=0,
        )

    def unheld_top(self, stage: int | None = None) -> tuple[int, int] | None:
        """``(users, t_ns)`` when a plan of one scenario reaches more users than it holds,
        only at the instant ``t_ns`` (:meth:`Timeline.unheld_top`); None otherwise."""
        if len(self.scenarios) != 1:
            return None
        return self.scenarios[0].unheld_top(stage)

    def peak_rate(self) -> Fraction:
        """The most arrivals per second this segment carries at once."""
        if len(self.scenarios) == 1:
            return self.scenarios[0].peak_rate()
        return max(
            max(self.rate_at(b), sum((t.rate_before(b) for t in self.scenarios), Fraction(0)))
            for b in self._breakpoints
        )

    @cached_property
    def _breakpoints(self) -> list[int]:
        return sorted({b for t in self.scenarios for b in t.breakpoints()})

    def total_arrivals(self) -> int:
        """Arrivals this segment makes over the whole run, over every open scenario."""
        return sum(t.total_arrivals() for t in self.scenarios if t.model == "open")

    # -- one scenario's questions (a plan of one scenario) ---------------------------------

    @property
    def endpoints(self) -> tuple[str, ...]:
        return self.only.endpoints

    @property
    def channels(self) -> tuple[str, ...]:
        return self.only.channels

    @property
    def mix(self) -> tuple[int, ...]:
        return self.only.mix

    def level_at(self, t_ns: int) -> Fraction:
        return self.only.level_at(t_ns)

    def arrivals_before(self, t_ns: int) -> Fraction:
        return self.only.arrivals_before(t_ns)

    def arrival_ns(self, k: int) -> int | None:
        return self.only.arrival_ns(k)

    def segment_arrival(self, n: int) -> tuple[int, int] | None:
        return self.only.segment_arrival(n)

    def endpoint_for(self, iteration: int) -> str:
        return self.only.endpoint_for(iteration)

    def arrival_endpoint(self, k: int) -> str:
        return self.only.arrival_endpoint(k)


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
    if not weights:
        return ()
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


def _timeline(
    name: str, scenario: Scenario, first: int, segment: Segment, *, alone: bool
) -> Timeline:
    stages: list[PlannedStage] = []
    start = scenario.start.ns
    for i, ramp in enumerate(scenario.load.ramps()):
        default = f"stage-{i + 1}" if alone else f"{name}.stage-{i + 1}"
        end = start + ramp.duration_ns
        stages.append(
            PlannedStage(
                first + i,
                ramp.name or default,
                start,
                end,
                ramp.from_level,
                ramp.to_level,
                name,
                _warmup_ns(scenario, i),
            )
        )
        start = end
    mix = scenario.mix or {}
    return Timeline(
        model=scenario.model,
        stages=tuple(stages),
        endpoints=tuple(mix),
        channels=tuple(scenario.channels),
        mix=_mix_wheel(tuple(mix.values())),
        segment=segment,
        name=name,
    )


def _warmup_ns(scenario: Scenario, i: int) -> int:
    warmup = scenario.load.stages[i].warmup
    return 0 if warmup is None else warmup.ns


def build_plan(
    spec: AnySpec, segment: Segment = Segment(), tables: Mapping[str, Table] | None = None
) -> Plan:
    """Compile a spec's scenarios into a plan (one segment of it). With ``tables`` (the
    loaded data tables), a table a scenario deals must give this segment a row
    (:func:`check_tables`)."""
    spec = as_format2(spec)
    if tables is not None:
        check_tables(spec, tables, segment)
    timelines: list[Timeline] = []
    first = 0
    alone = len(spec.scenarios) == 1
    for name, scenario in spec.scenarios.items():
        timelines.append(_timeline(name, scenario, first, segment, alone=alone))
        first += len(scenario.load.stages)
    plan = Plan(scenarios=tuple(timelines), segment=segment)
    for timeline in plan.scenarios:
        _check_segment_carries_load(timeline, alone=alone)
    return plan


def _check_segment_carries_load(timeline: Timeline, *, alone: bool) -> None:
    """User slots and arrivals are dealt one by one to the segments: a segment whose turn
    never comes would send nothing and fail every threshold for want of data."""
    segment = timeline.segment
    if segment.count == 1:
        return
    if timeline.model == "closed":
        whole, what = max(s.held() for s in timeline.stages), "holds at most {} users"
    else:
        whole, what = math.ceil(timeline.arrivals_before(timeline.end_ns)), "makes {} arrivals"
    if segment.share(whole) > 0:
        return
    n = segment.count
    idle = f"segment {n}/{n} gets" if whole + 1 == n else f"segments {whole + 1}/{n} to {n}/{n} get"
    whose = "the plan" if alone else f"scenario {timeline.name}"
    raise PlanError(
        f"segment {segment} carries no load: {whose} {what.format(f'{whole:,}')}, dealt one "
        f"by one to {n} segments, so {idle} none; split the load in at most {whole:,} segments"
    )


def check_tables(spec: Spec, tables: Mapping[str, Table], segment: Segment) -> None:
    """PlanError unless every table a scenario deals has a row for this segment: with
    ``--segment I/N`` each segment deals its own rows (row j to segment j mod N + 1)."""
    dealt = sorted({name for s in spec.scenarios.values() for name in s.data})
    for name in dealt:
        table = tables.get(name)
        if table is None:
            continue
        try:
            Dealer(table, segment)
        except DataError as exc:
            raise PlanError(
                f"{exc}; each segment deals rows of its own: give the table at least "
                f"{segment.count} rows, or run fewer segments"
            ) from None


@dataclass(frozen=True)
class Connections:
    """The sockets one scenario's load may hold at once, at most, and how that is counted."""

    scenario: str
    count: int
    why: str


def connection_bounds(spec: AnySpec, plan: Plan) -> tuple[Connections, ...]:
    """Each scenario's :class:`Connections`.

    Closed: per user one HTTP connection and one per channel it holds. Open: the arrivals
    that can be open at once. An arrival of one request (a mix without setup) lasts its
    timeout at most (the request's one deadline covers connecting and redirects), so at
    most the peak rate times the longest timeout of its endpoints, plus one; an arrival
    through a flow has no set length, so every arrival may be. Never more than the
    scenario's arrivals, nor its ``max_in_flight``. (A generator that falls behind sends
    late arrivals in a burst: more could be open, but then the run is invalid anyway.)
    """
    spec = as_format2(spec)
    target = spec.target
    out = []
    for timeline in plan.scenarios:
        scenario = spec.scenarios[timeline.name]
        if timeline.model == "closed":
            what = ["HTTP"] if scenario.sends() else []
            if scenario.channels:
                n = len(scenario.channels)
                what.append(f"{n} channel{'s' if n != 1 else ''}")
            users = timeline.users_started()
            per_user = (1 if scenario.sends() else 0) + len(scenario.channels)
            why = f"{users} users × {per_user}: {' + '.join(what) or 'nothing'}"
            out.append(Connections(timeline.name, users * per_user, why))
            continue
        arrivals, limit = timeline.total_arrivals(), scenario.load.max_in_flight
        if scenario.flow is None and not scenario.setup:
            longest = max(
                (spec.endpoints[e].timeout or target.timeout for e in scenario.sends()),
                key=lambda d: d.ns,
                default=target.timeout,
            )
            bound = math.ceil(timeline.peak_rate() * Fraction(longest.ns, 10**9)) + 1
            why = f"{float(timeline.peak_rate()):g}/s × its {longest} timeout + 1"
        else:
            bound, why = arrivals, "every arrival, a pass through its flow has no set length"
        count = min(bound, arrivals, limit)
        if count < bound:
            why += (
                f", capped by max_in_flight {limit}"
                if count == limit
                else f", capped by its {arrivals:,} arrivals"
            )
        out.append(Connections(timeline.name, count, why))
    return tuple(out)


def connections_needed(spec: AnySpec, plan: Plan) -> int:
    """Sockets the load may hold at once, at most: each scenario's peak
    (:func:`connection_bounds`), added up. The engine raises the open-files limit to it."""
    return sum(c.count for c in connection_bounds(spec, plan))
