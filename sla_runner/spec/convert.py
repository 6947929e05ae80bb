"""Format 1 → format 2: a version-1 spec as the one-scenario format-2 spec it means.

The scenario is ``default``. Each version-1 stage ramps from the previous stage's level
(0 before the first) to its own, as version 1 always did: it becomes ``ramp_to`` of its level,
or, when the level is the previous one, ``users``/``rate`` (a hold: the same thing, written
as format 2 writes it). The mix is the endpoints' weights, in their order; the scenario
holds every channel. ``think_time`` is kept for the closed model and ``max_in_flight`` for
the open one (the other model never read them). Version-1 text is never a template: a
``{{`` in a field format 2 reads as a template is escaped (``{{{{``), so the same bytes are sent.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from sla_runner.spec.format2 import Spec
from sla_runner.spec.models import SpecV1, Stage
from sla_runner.spec.parts import DEFER_REFERENCES
from sla_runner.spec.templated import map_sites
from sla_runner.spec.templates import escape

DEFAULT_SCENARIO = "default"


def _written(model: Any, exclude: set[str] | None = None) -> dict[str, Any]:
    """What a model was given (its fields as the file wrote them), aliases as keys."""
    return dict(model.model_dump(by_alias=True, exclude_unset=True, exclude=exclude))


def level_of(stage: Stage) -> Fraction:
    """A version-1 stage's level: users, or arrivals per second."""
    if stage.rate is not None:
        return stage.rate.per_s
    return Fraction(stage.users or 0)


def _stages(spec: SpecV1) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    previous = Fraction(0)
    for stage in spec.load.stages:
        key = "users" if stage.users is not None else "rate"
        value = stage.users if stage.users is not None else stage.rate
        level = level_of(stage)
        written = _written(stage, {"users", "rate"})
        out.append({**written, **({key: value} if level == previous else {"ramp_to": value})})
        previous = level
    return out


def from_v1(spec: SpecV1) -> Spec:
    """The format-2 spec a version-1 spec means (see the module)."""
    load = _written(spec.load, {"stages"})
    load.pop("think_time" if spec.load.model == "open" else "max_in_flight", None)
    scenario: dict[str, Any] = {"load": {"stages": _stages(spec), **load}}
    if spec.endpoints:
        scenario["mix"] = {name: e.weight for name, e in spec.endpoints.items()}
    if spec.channels:
        scenario["channels"] = list(spec.channels)
    data = {
        **_written(spec, {"load", "endpoints", "channels", "thresholds", "target"}),
        "version": 2,
        "target": _written(spec.target),
        "endpoints": {
            name: map_sites("endpoints", _written(e, {"weight"}), escape)
            for name, e in spec.endpoints.items()
        },
        "channels": {
            name: map_sites("channels", _written(c), escape) for name, c in spec.channels.items()
        },
        "scenarios": {DEFAULT_SCENARIO: scenario},
        "thresholds": [_written(rule) for rule in spec.thresholds],
    }
    return Spec.model_validate(data, context={DEFER_REFERENCES: True})


AnySpec = Spec | SpecV1
"""What the plan, the engine and the judge take: either model (a version-1 one is read
through :func:`from_v1`, so it means what it always meant)."""


def as_format2(spec: AnySpec) -> Spec:
    """``spec`` as format 2: a version-1 model converted, a format-2 one as it is."""
    return spec if isinstance(spec, Spec) else from_v1(spec)


def format_version(spec: AnySpec) -> int:
    """The format version a model is of: 1 for a version-1 model, else 2."""
    return 1 if isinstance(spec, SpecV1) else 2
