"""A capacity search's outcome: the document, its status and its message. Pure.

Status (and exit code): with a promise (``capacity: {users: ">= 100"}``), ``pass`` when a
level at or above it held, ``fail`` when it did not, ``invalid`` when the generator's limit
came before it was decided. Without one, ``pass`` when a capacity was found (to the
resolution, or "at least --to"), ``fail`` when the first level broke or the service died,
``invalid`` when the generator's limit came first. ``error``/``aborted``: a step could not be
carried out, or was interrupted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sla_runner import numbers
from sla_runner.capacity.document import (
    Breach,
    CapacityDocument,
    CapacityStatus,
    Knee,
    Promise,
    SearchSettings,
    SearchStop,
    Step,
)
from sla_runner.capacity.knee import find_knee, knee_message
from sla_runner.capacity.search import Ladder, SearchResult
from sla_runner.verdict import RunFacts, SpecIdentity

__all__ = ["PromisedLevel", "capacity_document", "phases", "shown_level"]


@dataclass(frozen=True)
class PromisedLevel:
    """The spec's promise: the scenario holds ``level`` (users, or arrivals per second)."""

    scenario: str
    level: int
    unit: str  # "users" or "/s"

    @property
    def expr(self) -> str:
        return f"capacity >= {shown_level(self.level, self.unit)}"


def shown_level(level: int, unit: str) -> str:
    return f"{level}/s" if unit == "/s" else f"{level} users"


def phases(steps: Sequence[Step], ladder: Ladder, promise: int | None) -> list[Step]:
    """The steps with their phase: the leading ones the ladder's, the promise's, the rest
    bisection's."""
    rungs = ladder.levels()
    ramp = 0
    while ramp < min(len(steps), len(rungs)) and steps[ramp].level == rungs[ramp]:
        ramp += 1
    out: list[Step] = []
    for i, step in enumerate(steps):
        phase = "ramp" if i < ramp else "promise" if step.level == promise else "bisect"
        out.append(step.model_copy(update={"phase": phase}))
    return out


def _breaches(step: Step) -> list[Breach]:
    failed = [
        t for t in step.thresholds if t.severity == "fail" and t.status in ("fail", "no_data")
    ]
    failed.sort(key=lambda t: t.margin_pct if t.margin_pct is not None else 0.0)
    return [
        Breach(
            level=step.level,
            expr=t.expr,
            observed=t.observed,
            limit=t.limit,
            unit=t.unit,
            margin_pct=t.margin_pct,
            message=t.message,
        )
        for t in failed
    ]


def _promise(
    promised: PromisedLevel | None, steps: Sequence[Step], stop: SearchStop
) -> Promise | None:
    if promised is None:
        return None
    expr, unit = promised.expr, promised.unit
    held = [s.level for s in steps if s.outcome == "held" and s.level >= promised.level]
    failed = [s for s in steps if s.outcome in ("broke", "dead") and s.level <= promised.level]
    holds: bool | None
    if held:
        holds, message = True, f"{expr} holds: {shown_level(min(held), unit)} held"
    elif failed or stop in ("resolved", "below_start", "dead"):
        holds = False
        first = min(failed, key=lambda s: s.level) if failed else None
        why = ""
        if first is not None:
            at = shown_level(first.level, unit)
            why = (
                f": the service stopped answering at {at}"
                if first.outcome == "dead"
                else f": {at} broke"
            )
        message = f"{expr} does not hold{why}"
    else:
        message = f"{expr} is undecided: the search stopped ({stop}) before it"
        holds = None
    return Promise(expr=promised.expr, level=promised.level, holds=holds, message=message)


def _status(stop: SearchStop, promise: Promise | None) -> CapacityStatus:
    if stop in ("error", "aborted"):
        return stop
    if promise is not None and promise.holds is not None:
        return "pass" if promise.holds else "fail"
    if stop == "generator":
        return "invalid"
    return "pass" if stop in ("resolved", "top") else "fail"


def _message(
    stop: SearchStop,
    capacity: int | None,
    breaks: Step | None,
    limit: int | None,
    s: SearchSettings,
) -> str:
    unit = s.unit
    shown = shown_level(capacity, unit) if capacity is not None else None
    if stop == "resolved" and shown and breaks is not None:
        return f"capacity: {shown} (every threshold held; {shown_level(breaks.level, unit)} broke)"
    if stop == "top":
        return f"capacity is at least {shown}: every level up to --to {shown} held"
    if stop == "generator":
        at = shown_level(limit or 0, unit)
        if shown is None:
            return f"the generator limit was reached at {at}, before any level was judged"
        return f"capacity is at least {shown}; the generator limit was reached at {at}"
    if stop == "below_start":
        return f"capacity is below --from {shown_level(s.from_level, unit)}: it broke already"
    if stop == "dead":
        at = shown_level(breaks.level if breaks else 0, unit)
        where = f"capacity: {shown}; " if shown else ""
        return f"{where}the service stopped answering at {at} (the search stopped there)"
    if stop == "aborted":
        return "the search was interrupted" + (
            f"; the highest level that held: {shown}" if shown else ""
        )
    return "a step could not be carried out"


def capacity_document(
    result: SearchResult[Step] | None,
    steps: Sequence[Step],
    *,
    stop: SearchStop,
    settings: SearchSettings,
    ladder: Ladder,
    spec: SpecIdentity,
    run: RunFacts,
    promised: PromisedLevel | None = None,
    not_judged: Sequence[str] = (),
    error: str | None = None,
) -> CapacityDocument:
    """The document of a search (``result``; None when it ended by an exception, with the
    ``steps`` measured so far and ``stop`` aborted or error)."""
    steps = phases(steps, ladder, promised.level if promised else None)
    held = [s.level for s in steps if s.outcome == "held"]
    capacity = max(held) if held else None
    bad = [s for s in steps if s.outcome in ("broke", "dead") and s.level > (capacity or 0)]
    breaks = min(bad, key=lambda s: s.level) if bad else None
    limit = result.generator_limit if result is not None else None
    promise = _promise(promised, steps, stop)
    curve = [(s.level, s.p95_ms) for s in steps if s.outcome in ("held", "broke") and s.p95_ms]
    found = find_knee(curve)
    knee = None
    findings: list[str] = []
    if found is not None:
        message = knee_message(found, curve, settings.unit)
        knee = Knee(
            level=found.level,
            p95_ms=found.p95_ms,
            slope_below=round(found.slope_below, 3),
            slope_above=round(found.slope_above, 3),
            message=message,
        )
        findings.append(message)
    broke = _breaches(breaks) if breaks is not None else []
    if broke:
        first = broke[0]
        by = ""
        if first.margin_pct:
            by = f" (outside the limit by {numbers.number(abs(first.margin_pct))}%)"
        findings.insert(0, f"first to break above the capacity: {first.message}{by}")
    message = error or _message(stop, capacity, breaks, limit, settings)
    return CapacityDocument(
        status=_status(stop, promise),
        message=message,
        spec=spec,
        run=run,
        search=settings,
        stop=stop,
        capacity=capacity,
        at_least=result.at_least if result is not None else breaks is None,
        breaks_at=breaks.level if breaks is not None else None,
        generator_limit=limit,
        broke=broke,
        knee=knee,
        promise=promise,
        findings=findings,
        not_judged=list(not_judged),
        steps=steps,
    )
