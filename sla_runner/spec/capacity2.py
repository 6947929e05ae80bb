"""Format 2's ``capacity`` key: the load a scenario promises to hold every threshold at.

``capacity: {scenario: shoppers, users: ">= 100"}`` (closed model) or ``{rate: ">= 500/s"}``
(open model). ``sla-runner capacity`` searches for the highest level the scenario holds and
judges the promise on it (a JUnit case ``capacity >= 100 users``); ``run`` does not read it.
:func:`capacity_findings` checks it against the scenarios, on whatever of the spec can be read.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import Field, PlainSerializer, PlainValidator
from pydantic.json_schema import WithJsonSchema
from pydantic_core import PydanticCustomError

from sla_runner.spec.checks import CheckedModel, Fields, Problem
from sla_runner.spec.crossref2 import Finding, View, unknown
from sla_runner.spec.fields import Name
from sla_runner.spec.units import Rate

__all__ = ["CapacityPromise", "capacity_findings"]

AT_LEAST_USERS_PATTERN = r"^\s*>=\s*[0-9]+\s*$"
AT_LEAST_RATE_PATTERN = r"^\s*>=\s*\d+(\.\d+)?\s*/\s*(s|m|h)\s*$"


def _at_least(value: Any, example: str) -> str:
    match = re.fullmatch(r"\s*>=\s*(.+?)\s*", value) if isinstance(value, str) else None
    if match is None:
        raise PydanticCustomError(
            "at_least", "expected {example}, got {got}", {"example": example, "got": repr(value)}
        )
    return match[1]


def _users(value: Any) -> int:
    text = _at_least(value, "'>= 100' (users)")
    if not text.isdigit():
        raise PydanticCustomError(
            "at_least",
            "expected a whole number of users, like '>= 100', got {got}",
            {"got": repr(text)},
        )
    return int(text)


def _rate(value: Any) -> Rate:
    if isinstance(value, Rate):
        return value
    text = _at_least(value, "'>= 500/s'")
    try:
        return Rate.parse(text)
    except ValueError as exc:
        raise PydanticCustomError("at_least", "{message}", {"message": str(exc)}) from None


AtLeastUsers = Annotated[
    int,
    PlainValidator(_users),
    PlainSerializer(lambda n: f">= {n}", return_type=str),
    WithJsonSchema({"type": "string", "pattern": AT_LEAST_USERS_PATTERN, "examples": [">= 100"]}),
]
AtLeastRate = Annotated[
    Rate,
    PlainValidator(_rate),
    PlainSerializer(lambda r: f">= {r}", return_type=str),
    WithJsonSchema({"type": "string", "pattern": AT_LEAST_RATE_PATTERN, "examples": [">= 500/s"]}),
]


class CapacityPromise(CheckedModel):
    """The load a scenario promises to hold every threshold at (``sla-runner capacity``)."""

    scenario: Name | None = Field(
        None, description="the scenario whose load is raised (default: the only one)"
    )
    users: AtLeastUsers | None = Field(
        None, description="closed model: '>= 100' users hold every threshold"
    )
    rate: AtLeastRate | None = Field(
        None, description="open model: '>= 500/s' arrivals hold every threshold"
    )

    @classmethod
    def checks(cls, fields: Fields) -> list[Problem]:
        problems: list[Problem] = []
        if ("users" in fields.given) == ("rate" in fields.given):
            problems.append(((), "give exactly one of users (closed model) or rate (open model)"))
        users, rate = fields["users"], fields["rate"]
        if "users" in fields.given and isinstance(users, int) and users < 1:
            problems.append((("users",), f"a capacity is at least 1 user, got {users}"))
        if "rate" in fields.given and isinstance(rate, Rate) and rate.per_s <= 0:
            problems.append((("rate",), f"a capacity is above 0/s, got {rate}"))
        return problems

    @property
    def level(self) -> int:
        """The promised level: users, or arrivals per second (rounded up)."""
        if self.users is not None:
            return self.users
        assert self.rate is not None
        return math.ceil(self.rate.per_s)

    @property
    def model(self) -> str:
        return "closed" if self.users is not None else "open"


def capacity_findings(view: View) -> list[Finding]:
    """The promise names a scenario the spec has (or the spec has only one), of its model."""
    raw = view.data.get("capacity")
    if not isinstance(raw, dict):
        return []
    scenarios = view.scenarios
    name = raw.get("scenario")
    if name is None:
        if len(scenarios) > 1:
            names = ", ".join(sorted(scenarios))
            return [
                Finding(("capacity",), f"name the scenario (scenario: NAME); the spec has {names}")
            ]
        if not scenarios:
            return []
        name = next(iter(scenarios))
        at: tuple[str, ...] = ("capacity",)
    else:
        at = ("capacity", "scenario")
    if not isinstance(name, str):
        return []
    if name not in scenarios:
        return [Finding(at, unknown("scenario", name, list(scenarios)))]
    model = scenarios[name].model
    key = "users" if "users" in raw else "rate" if "rate" in raw else None
    wants = {"users": "closed", "rate": "open"}.get(key or "")
    if model is not None and wants is not None and model != wants:
        example = "users: '>= 100'" if model == "closed" else "rate: '>= 500/s'"
        return [
            Finding(
                ("capacity", key or ""),
                f"scenario {name!r} has the {model} model: promise its {example}",
            )
        ]
    return []
