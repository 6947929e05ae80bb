"""A format-2 scenario's load: stages that hold their level, and explicit ramps.

A stage **holds** ``users`` (closed model) or ``rate`` (open model) from its first instant;
``ramp_to`` moves linearly from the previous stage's level (0 before the first stage) to its
own: ``ramp_to: 100`` (users) or ``ramp_to: 400/s``. A scenario's stages are all one model.
:meth:`LoadV2.ramps` gives each stage's levels exactly, for the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Annotated, Literal

from pydantic import Field

from sla_runner.spec.checks import CheckedModel, Fields, Problem
from sla_runner.spec.fields import DurationField, Name, RateField, ThinkTime, ThinkTimeField
from sla_runner.spec.parts import MAX_USERS
from sla_runner.spec.units import Duration, Rate
from sla_runner.timeunits import NS_PER_S

DEFAULT_MAX_IN_FLIGHT = 10_000
DEFAULT_THINK_TIME = ThinkTime(min=Duration(0), max=Duration(0))
Users = Annotated[int, Field(ge=0, le=MAX_USERS)]


class StageV2(CheckedModel):
    """One stage: it holds ``users`` or ``rate`` from its first instant, or ramps to
    ``ramp_to`` from the previous stage's level (0 before the first)."""

    name: Name | None = None
    duration: DurationField
    users: Users | None = Field(None, description="closed model: hold this many users")
    rate: RateField | None = Field(None, description="open model: hold this arrival rate")
    ramp_to: Users | RateField | None = Field(
        None,
        description="ramp linearly from the previous stage's level (0 at the start) to this: "
        "users (100) or a rate (400/s)",
    )
    warmup: DurationField | None = Field(
        None,
        description="its first seconds, left out of every threshold over requests that judges "
        "this stage (during it, its scenario or the run): judged from the per-second "
        "histograms after them. Whole seconds, shorter than the stage",
    )

    @classmethod
    def checks(cls, fields: Fields) -> list[Problem]:
        problems: list[Problem] = []
        if sum(k in fields.given for k in ("users", "rate", "ramp_to")) != 1:
            problems.append(
                ((), "give exactly one of users (hold), rate (hold) or ramp_to (a ramp)")
            )
        duration = fields["duration"]
        if isinstance(duration, Duration) and duration.ns <= 0:
            problems.append((("duration",), f"must be above 0, got {duration}"))
        warmup = fields["warmup"]
        if isinstance(warmup, Duration):
            if warmup.ns < NS_PER_S or warmup.ns % NS_PER_S:
                problems.append((("warmup",), f"must be whole seconds, at least 1s, got {warmup}"))
            elif isinstance(duration, Duration) and warmup.ns >= duration.ns:
                problems.append(
                    (
                        ("warmup",),
                        f"warmup {warmup} leaves nothing of the stage's {duration}: "
                        "it must be shorter than the stage",
                    )
                )
        return problems

    @property
    def model(self) -> Literal["closed", "open"]:
        if self.users is not None or isinstance(self.ramp_to, int):
            return "closed"
        return "open"

    @property
    def level(self) -> Fraction:
        """Users, or arrivals per second, this stage holds or ramps to."""
        value = next(v for v in (self.users, self.rate, self.ramp_to) if v is not None)
        return value.per_s if isinstance(value, Rate) else Fraction(value)


@dataclass(frozen=True)
class Ramp:
    """One stage's levels: from ``from_level`` at its start to ``to_level`` at its end."""

    name: str | None
    duration_ns: int
    from_level: Fraction
    to_level: Fraction


def stage_kind(stage: Fields) -> Literal["closed", "open"] | None:
    """The model a stage's written level says (None when it does not say one clearly)."""
    kinds = set()
    for key in ("users", "rate", "ramp_to"):
        value = stage[key] if key in stage.given else None
        if isinstance(value, int):
            kinds.add("closed")
        elif isinstance(value, Rate):
            kinds.add("open")
    return kinds.pop() if len(kinds) == 1 else None  # type: ignore[return-value]


class LoadV2(CheckedModel):
    stages: list[StageV2] = Field(min_length=1, max_length=1000)
    think_time: ThinkTimeField = Field(
        DEFAULT_THINK_TIME,
        description="a user's pause after each step: fixed (1s) or min..max (default 0s)",
    )
    max_in_flight: int = Field(
        DEFAULT_MAX_IN_FLIGHT,
        ge=1,
        le=MAX_USERS,
        description="open model only: arrivals in flight before new ones are dropped",
    )
    graceful_stop: DurationField = Field(
        Duration.parse("5s"),
        description="time in-flight work gets to finish at the end (at least the longest timeout)",
    )

    @property
    def model(self) -> Literal["closed", "open"]:
        return self.stages[0].model

    def ramps(self) -> tuple[Ramp, ...]:
        """Each stage's levels (users, or arrivals per second), exactly."""
        out: list[Ramp] = []
        level = Fraction(0)
        for stage in self.stages:
            start = level if stage.ramp_to is not None else stage.level
            level = stage.level
            out.append(Ramp(stage.name, stage.duration.ns, start, level))
        return tuple(out)

    @classmethod
    def checks(cls, fields: Fields) -> list[Problem]:
        problems: list[Problem] = []
        written = fields.items.get("stages", [])
        stages = [s for s in written if s is not None]
        levels = [_level(s) for s in stages]
        if written and len(stages) == len(written) and all(v == 0 for v in levels):
            problems.append(
                (("stages",), "every stage has 0 users or 0/s: the scenario would send nothing")
            )
        kinds = {kind for s in stages if (kind := stage_kind(s)) is not None}
        if len(kinds) > 1:
            zero = any(s["ramp_to"] == 0 and isinstance(s["ramp_to"], int) for s in stages)
            hint = " (a ramp down in an open scenario is ramp_to: 0/s)" if zero else ""
            problems.append(
                (
                    (),
                    "stages mix users (closed model) and rate (open model); use one model per "
                    f"scenario{hint}",
                )
            )
        names = [s["name"] for s in stages if isinstance(s["name"], str)]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            problems.append(((), f"stage names must be unique; repeated: {', '.join(duplicated)}"))
        return problems


def _level(stage: Fields) -> Fraction | None:
    """A stage's written level; None when it cannot be read."""
    for key in ("users", "rate", "ramp_to"):
        value = stage[key]
        if key in stage.given:
            if isinstance(value, Rate):
                return value.per_s
            return Fraction(value) if isinstance(value, int) else None
    return None
