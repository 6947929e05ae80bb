"""What ``sla-runner capacity`` was asked, checked against the spec, as the search's inputs.

Pure: the options as typed (text) and the spec → a :class:`CapacityPlan`, or UsageError with
one line that names the option. Levels are whole users (closed model) or whole arrivals per
second (open model: ``200`` or ``200/s``).

Defaults: ``--to`` four times the scenario's peak level in the spec (or twice the promise, if
that is higher); ``--from`` a sixteenth of ``--to`` (at least 1); ``--step x2``;
``--resolution 5%``; ``--step-duration`` the spec's steady stage (see
:func:`sla_runner.capacity.stepspec.default_step_duration`) or 30s; ``--warmup`` a fifth of
the step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from sla_runner.capacity.document import SearchSettings
from sla_runner.capacity.outcome import PromisedLevel
from sla_runner.capacity.search import Ladder, Resolution
from sla_runner.capacity.stepspec import (
    StepTiming,
    default_step_duration,
    peak_level,
    promised_level,
    scenario_models,
)
from sla_runner.errors import UsageError
from sla_runner.spec.format2 import SpecV2
from sla_runner.spec.units import Duration, parse_rate_per_s

__all__ = ["CapacityOptions", "CapacityPlan", "plan_capacity"]


@dataclass(frozen=True)
class CapacityOptions:
    """The options as typed; None: the default."""

    scenario: str | None = None
    from_level: str | None = None
    to_level: str | None = None
    step: str = "x2"
    resolution: str = "5%"
    step_duration: str | None = None
    warmup: str | None = None


@dataclass(frozen=True)
class CapacityPlan:
    ladder: Ladder
    resolution: Resolution
    timing: StepTiming
    settings: SearchSettings
    promised: PromisedLevel | None


def _level(option: str, text: str, model: str) -> int:
    written = text.strip()
    if "/" in written:
        if model == "closed":
            raise UsageError(
                f"{option}: the scenario runs users (closed model): give a number, got {text!r}"
            )
        try:
            per_s = parse_rate_per_s(written)
        except ValueError as exc:
            raise UsageError(f"{option}: {exc}") from None
    elif re.fullmatch(r"[0-9]+", written):
        per_s = Fraction(int(written))
    else:
        unit = "users, e.g. 100" if model == "closed" else "arrivals per second, e.g. 200/s"
        raise UsageError(f"{option}: expected a whole number of {unit}, got {text!r}")
    if per_s.denominator != 1 or per_s < 1:
        raise UsageError(f"{option}: expected a whole level of at least 1, got {text!r}")
    return int(per_s)


def _shown(typed: str | None, level: int, model: str) -> str:
    """A level as the user typed it (``100/s``, ``6000/m (100/s)``: what it came to), or
    the default with its unit."""
    unit = " users" if model == "closed" else "/s"
    if typed is None:
        return f"{level}{unit} (the default)"
    written = typed.strip()
    if re.fullmatch(r"[0-9]+(/s)?", written):
        return written
    return f"{written} ({level}{unit})"


def _ladder(start: int, stop: int, step: str) -> Ladder:
    match = re.fullmatch(r"\s*([x*×+])\s*([0-9]+(?:\.[0-9]+)?)\s*", step)
    if match is None:
        raise UsageError(
            f"--step: expected x2 (multiply, geometric) or +10 (add, linear), got {step!r}"
        )
    sign, number = match[1], Fraction(match[2])
    try:
        if sign == "+":
            if number.denominator != 1:
                raise UsageError(f"--step: a linear step adds a whole level, got {step!r}")
            return Ladder(start, stop, increment=int(number))
        return Ladder(start, stop, factor=number)
    except ValueError as exc:
        raise UsageError(f"--step {step}: {exc}") from None


def _resolution(text: str) -> Resolution:
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(%?)\s*", text)
    if match is None:
        raise UsageError(
            f"--resolution: expected a percentage like 5% or a level like 10, got {text!r}"
        )
    value = Fraction(match[1])
    try:
        if match[2]:
            return Resolution(percent=value)
        if value.denominator != 1:
            raise UsageError(f"--resolution: an absolute resolution is a whole level, got {text!r}")
        return Resolution(absolute=int(value))
    except ValueError as exc:
        raise UsageError(f"--resolution: {exc}") from None


def _duration(option: str, text: str) -> Duration:
    try:
        return Duration.parse(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def plan_capacity(spec: SpecV2, options: CapacityOptions) -> CapacityPlan:
    """Check the options against the spec (its scenarios, its promise) and fill in the
    defaults (see the module)."""
    scenarios = scenario_models(spec)
    promise = promised_level(spec)
    if options.scenario is not None and options.scenario not in scenarios:
        names = ", ".join(sorted(scenarios))
        raise UsageError(
            f"--scenario: the spec has no scenario {options.scenario!r}; it has {names}"
        )
    if options.scenario is None and promise is None and len(scenarios) > 1:
        names = ", ".join(sorted(scenarios))
        raise UsageError(f"--scenario: the spec has several scenarios ({names}); name one")
    scenario = options.scenario or (promise.scenario if promise else None) or next(iter(scenarios))
    model = scenarios[scenario]
    if promise is not None and promise.scenario != scenario:
        promise = None  # the promise is another scenario's
    peak = peak_level(spec, scenario)
    top = (
        _level("--to", options.to_level, model)
        if options.to_level is not None
        else max(4 * peak, 2 * promise.level if promise else 0)
    )
    start = (
        _level("--from", options.from_level, model)
        if options.from_level is not None
        else max(1, top // 16)
    )
    if start > top or (promise is not None and not start <= promise.level <= top):
        low = f"--from {_shown(options.from_level, start, model)}"
        high = f"--to {_shown(options.to_level, top, model)}"
        if start > top:
            raise UsageError(f"{low} is above {high}")
        assert promise is not None
        raise UsageError(
            f"the spec promises {promise.expr}, outside {low} .. {high}: "
            "the search could not decide it"
        )
    duration = (
        _duration("--step-duration", options.step_duration)
        if options.step_duration is not None
        else default_step_duration(spec, scenario)
    )
    if duration.ns <= 0:
        raise UsageError(f"--step-duration: a step lasts more than 0s, got {duration}")
    warmup = (
        _duration("--warmup", options.warmup)
        if options.warmup is not None
        else Duration(duration.ns // 5)
    )
    try:
        timing = StepTiming(duration, warmup)
    except ValueError as exc:
        raise UsageError(f"--warmup: {exc}") from None
    ladder = _ladder(start, top, options.step)
    resolution = _resolution(options.resolution)
    settings = SearchSettings(
        scenario=scenario,
        model="closed" if model == "closed" else "open",
        unit="users" if model == "closed" else "/s",
        from_level=start,
        to_level=top,
        step=options.step.strip(),
        resolution=str(resolution),
        step_duration_s=duration.seconds,
        warmup_s=warmup.seconds,
    )
    return CapacityPlan(ladder, resolution, timing, settings, promise)
