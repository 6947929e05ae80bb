"""Thresholds on the users no run of the plan can meet, refused as a spec error.

A ``users`` threshold (bare, ``min``, ``mean`` or ``max``: none is above the most users
held) that asks for more users than the plan ever holds can never hold, and is refused as
``users >= 0`` is. The plan is asked (it is pure): a stage owns [start, end), so a ramp
reaches its level only at the instant it ends, and a last stage that ramps up to 10 users
holds 9 at most (:meth:`sla_runner.timeline.PlannedStage.held`).

A threshold ``during`` a stage is judged on what that stage can show: its own users, and
those still finishing a request from the stages before it (users leaving on a ramp-down
finish their current request), so the most held up to its end. A segment's share is not
judged here: load-size thresholds are judged when the segments are merged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from itertools import pairwise
from typing import Any

from pydantic import ValidationError

from sla_runner.spec.checks import Loc, Problem
from sla_runner.spec.crossref2 import Finding, View
from sla_runner.spec.load2 import LoadV2
from sla_runner.spec.models import Load, RuleRefs
from sla_runner.spec.units import Duration
from sla_runner.timeline import PlannedStage, Timeline
from sla_runner.timeunits import NS_PER_S

__all__ = ["planned_stages", "readable_load", "users_out_of_reach", "users_out_of_reach_v2"]


def readable_load(data: Any, errors: Sequence[Loc]) -> Load | None:
    """The load section of ``data``, a spec that did not validate elsewhere (``errors``
    are the locations of its errors), so its users thresholds are checked in the same
    round; None when the load itself has an error (its own error says why)."""
    load = data.get("load") if isinstance(data, dict) else None
    if load is None or any(loc[:1] == ("load",) for loc in errors):
        return None
    try:
        return Load.model_validate(load)
    except ValidationError:  # pragma: no cover - a load without errors validates
        return None


def planned_stages(load: Load) -> tuple[PlannedStage, ...]:
    """The stages of a version-1 load section on the plan's clock, each ramping from the
    previous stage's level (the first from 0), for checks made before a plan exists."""
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


def users_out_of_reach(load: Load | None, rules: Sequence[RuleRefs]) -> list[Problem]:
    """A problem for each ``users`` threshold of ``rules`` that ``load`` can never meet
    (``load`` None: it cannot be read, so nothing is checked)."""
    if load is None or load.model != "closed":
        return []
    stages = planned_stages(load)
    names = [stage.name for stage in load.stages]
    problems: list[Problem] = []
    for rule in rules:
        t = rule.expr
        if t is None or t.metric != "users" or t.op not in (">", ">="):
            continue
        if rule.during is None:
            window, stage = stages, None
        elif rule.during in names:
            stage = stages[names.index(rule.during)]
            window = stages[: stage.index + 1]
        else:
            continue  # no such stage: its own error says so
        most = max(s.held() for s in window)
        if t.holds(most):
            continue
        where = "the plan" if stage is None else f"stage {stage.name!r}"
        subject = t.text if stage is None else f"{t.text} during {stage.name!r}"
        message = (
            f"{subject} can never hold: {where} holds at most {most:,} users"
            f"{_unheld(window, stages, stage)}; {_fix(t.limit, t.op, window, stage)}"
        )
        problems.append((("thresholds", rule.index, "expr"), message))
    return problems


def _unheld(
    window: Sequence[PlannedStage], stages: Sequence[PlannedStage], stage: PlannedStage | None
) -> str:
    """Why the top of ``window`` is not held, when it is above what is held."""
    top, most = max(s.top() for s in window), max(s.held() for s in window)
    if top <= most:
        return ""
    peak = next(s for s in window if s.top() == top)
    if peak.to_level < peak.from_level:
        return f" (it reaches {top:,} only at {peak.start_ns / NS_PER_S:g}s and leaves it at once)"
    if stage is None and peak is stages[-1]:
        return f" (its last stage, {peak.name!r}, reaches {top:,} only as the run ends)"
    if peak is stage:
        return f" (it reaches {top:,} only as it ends)"
    return f" (it reaches {top:,} only at {peak.end_ns / NS_PER_S:g}s and leaves it at once)"


def _fix(limit: float, op: str, window: Sequence[PlannedStage], stage: PlannedStage | None) -> str:
    needed = math.floor(limit) + 1 if op == ">" else math.ceil(limit)
    if stage is not None:
        return f"judge it during a stage that holds {needed:,} users, or over the run"
    if max(s.top() for s in window) >= needed:
        return f"add a stage that holds {needed:,} users, e.g. {{duration: 10s, users: {needed}}}"
    return f"raise the load to {needed:,} users held, or lower the limit"


# -- format 2 -------------------------------------------------------------------------------


def users_out_of_reach_v2(view: View) -> list[Finding]:
    """Format 2's ``users`` thresholds that no run of the plan can meet: per scenario (with
    ``scenario:``), the most that scenario holds; run-wide (without), the most the closed
    scenarios hold at once, added up between two of their stage boundaries. ``during:``
    counts what is held up to that stage's end, as in format 1 (users leaving before it
    finish their request in it). A scenario whose load or start cannot be read leaves its
    own thresholds and the run-wide ones unchecked."""
    timelines = _timelines(view)
    found: list[Finding] = []
    for rule in view.thresholds:
        t = rule.expr
        if t is None or t.metric != "users" or t.op not in (">", ">=") or not rule.readable:
            continue
        if rule.scenario is not None:
            timeline = timelines.get(rule.scenario)
            if timeline is None or timeline.model != "closed":
                continue  # unreadable, or open: its own error says so
            chosen = [timeline]
            where, verb = f"scenario {rule.scenario}", "holds"
        else:
            if len(timelines) != len(view.scenarios) or not timelines:
                continue
            chosen = list(timelines.values())
            together = len(chosen) > 1
            where, verb = ("the scenarios together", "hold") if together else ("the plan", "holds")
        until = _stage_end(chosen if rule.scenario else list(timelines.values()), rule.during)
        if until is None:
            continue  # no such stage (its own error says so)
        most = _most_held(chosen, until)
        if t.holds(most):
            continue
        needed = math.floor(t.limit) + 1 if t.op == ">" else math.ceil(t.limit)
        if rule.during is None:
            subject, fix = t.text, f"raise the load to {needed:,} users held, or lower the limit"
        else:
            subject = f"{t.text} during {rule.during!r}"
            where += f" up to the end of stage {rule.during!r}"
            fix = f"judge it during a stage that holds {needed:,} users, or over the run"
        message = f"{subject} can never hold: {where} {verb} at most {most:,} users; {fix}"
        found.append(Finding(("thresholds", rule.index, "expr"), message))
    return found


def _timelines(view: View) -> dict[str, Timeline]:
    """The timeline of each scenario whose load and start can be read."""
    out: dict[str, Timeline] = {}
    scenarios = view.data.get("scenarios")
    index = 0  # the run's stage index, as the plan counts
    for name, raw in scenarios.items() if isinstance(scenarios, dict) else ():
        at = ("scenarios", name)
        if not isinstance(raw, dict) or any(
            loc[:3] in ((*at, "load"), (*at, "start")) for loc in view.errors
        ):
            continue
        try:
            load = LoadV2.model_validate(raw.get("load"))
            start = Duration.parse(str(raw["start"])).ns if raw.get("start") is not None else 0
        except (ValidationError, ValueError):
            continue
        stages, at_ns = [], start
        for j, ramp in enumerate(load.ramps()):
            end = at_ns + ramp.duration_ns
            label = ramp.name or f"{name}.stage-{j + 1}"
            stages.append(
                PlannedStage(index, label, at_ns, end, ramp.from_level, ramp.to_level, name)
            )
            index, at_ns = index + 1, end
        out[name] = Timeline(load.model, tuple(stages), (), (), (), name=name)
    return out


def _stage_end(timelines: Sequence[Timeline], during: str | None) -> int | None:
    """The end of stage ``during`` among ``timelines`` (the run's end without one); None
    when none of them has it."""
    if during is None:
        return max(t.end_ns for t in timelines)
    return next((s.end_ns for t in timelines for s in t.stages if s.name == during), None)


def _most_held(timelines: Sequence[Timeline], until: int) -> int:
    """The most users ``timelines`` hold at once, added up, before ``until``."""
    points = sorted({b for t in timelines for b in t.breakpoints() if b <= until})
    return max(
        (sum(t.held_in(a, b) for t in timelines) for a, b in pairwise(points)),
        default=0,
    )
