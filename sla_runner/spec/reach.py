"""Thresholds on the users no run of the plan can meet, refused as a spec error.

A ``users`` threshold (bare, ``min``, ``mean`` or ``max``: none is above the most users
held) that asks for more users than the plan ever holds can never hold, and is refused as
``users >= 0`` is. The plan is asked (it is pure): a stage owns [start, end), so a ramp
reaches its level only at the instant it ends, and a last stage that ramps up to 10 users
holds 9 at most (:meth:`sla_runner.plan.PlannedStage.held`).

A threshold ``during`` a stage is judged on what that stage can show: its own users, and
those still finishing a request from the stages before it (users leaving on a ramp-down
finish their current request), so the most held up to its end. A segment's share is not
judged here: load-size thresholds are judged when the segments are merged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from sla_runner.plan import PlannedStage, planned_stages
from sla_runner.spec.checks import Loc, Problem
from sla_runner.spec.models import Load, RuleRefs
from sla_runner.timeunits import NS_PER_S

__all__ = ["readable_load", "users_out_of_reach"]


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
