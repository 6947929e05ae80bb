"""The capacity document, format ``sla-runner/capacity`` version 1: frozen Pydantic models.

``sla-runner capacity --json PATH`` writes ``CapacityDocument.model_dump(mode="json")``; its
JSON Schema, committed at ``schemas/capacity.schema.json``, is :func:`capacity_json_schema`
(``sla-runner schema capacity``). Fields may be added in later versions of the runner, never
removed or changed in meaning. Levels are users (closed model) or arrivals per second (open
model), as ``search.unit`` says.
"""

from __future__ import annotations

import json
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from sla_runner.errors import EXIT_FAIL, EXIT_INVALID_RUN, EXIT_PASS, EXIT_RUN_ERROR
from sla_runner.verdict import RunFacts, SpecIdentity, ThresholdStatus, ThresholdUnit

CapacityFormat = Literal["sla-runner/capacity"]
CapacityFormatVersion = Literal[1]
CAPACITY_FORMAT: Final[CapacityFormat] = "sla-runner/capacity"
CAPACITY_FORMAT_VERSION: Final[CapacityFormatVersion] = 1

CapacityStatus = Literal["pass", "fail", "invalid", "error", "aborted"]
SearchStop = Literal["resolved", "top", "below_start", "generator", "dead", "aborted", "error"]
StepOutcomeName = Literal["held", "broke", "invalid", "dead"]
Unit = Literal["users", "/s"]

EXIT_CODES: dict[str, int] = {
    "pass": EXIT_PASS,
    "fail": EXIT_FAIL,
    "invalid": EXIT_INVALID_RUN,
    "error": EXIT_RUN_ERROR,
    "aborted": EXIT_RUN_ERROR,
}

CAPACITY_EXIT_CODES_DOC = (
    "Exit codes of sla-runner capacity: 0 pass (the spec's capacity promise holds; without a "
    "promise, a capacity was found); 1 fail (the promise does not hold; without one, the first "
    "level already broke or the service stopped answering); 2 invalid spec or command line; "
    "3 error (a step could not be carried out) or aborted (interrupted); 4 invalid (the "
    "generator's limit came before the service's: the capacity is only a lower bound)."
)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SearchSettings(_Model):
    scenario: str = Field(description="the scenario whose load was raised")
    model: Literal["closed", "open"] = Field(description="closed: users; open: arrival rate")
    unit: Unit = Field(description="the unit of every level: users, or arrivals per second")
    from_level: int = Field(description="--from: the ramp's first level")
    to_level: int = Field(description="--to: the highest level the search may measure")
    step: str = Field(description="--step: x2 (geometric, a factor) or +10 (linear)")
    resolution: str = Field(description="--resolution: 5% (of the level that held) or 10")
    step_duration_s: float = Field(description="each step's whole duration, warm-up included")
    warmup_s: float = Field(description="the start of each step left out of its judgement")


class StepThreshold(_Model):
    """One threshold judged on one step's window."""

    expr: str
    id: str | None = Field(
        None,
        description="the expression and its window, for and warmup when it is judged over "
        "windows (the JUnit case name); null in documents written before it was recorded",
    )
    severity: Literal["fail", "warn"]
    status: ThresholdStatus
    observed: float | None = Field(description="in unit; null when there was nothing to judge")
    limit: float
    unit: ThresholdUnit
    margin_pct: float | None = Field(
        description="how far inside the limit (positive) or outside it (negative), in % of it"
    )
    message: str


class Step(_Model):
    """One level held for a step, judged on the step's window after its warm-up."""

    level: int
    phase: Literal["ramp", "bisect", "promise"] = Field(
        description="ramp: the coarse ramp; bisect: between the last level that held and the "
        "first that broke; promise: the spec's promised level, measured to decide it"
    )
    outcome: StepOutcomeName = Field(
        description="held: every threshold of severity fail held; broke: one did not; "
        "invalid: the generator could not deliver the step (no fact about the service); "
        "dead: the service stopped answering (no request succeeded for a whole second)"
    )
    window_s: float = Field(description="the judged window: the step after its warm-up")
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    success_rate_pct: float | None = Field(None, description="requests that succeeded, in %")
    throughput_per_s: float | None = Field(None, description="requests completed per second")
    rss_max_bytes: int | None = Field(None, description="the service's memory (target.process)")
    cpu_max_pct: float | None = Field(None, description="the service's CPU, % of one core")
    thresholds: list[StepThreshold] = Field(default_factory=list)
    reasons: list[str] = Field(
        default_factory=list, description="why the step is invalid or dead, or stopped"
    )
    attempts: int = Field(
        1,
        description="runs the step took: a step whose first run was invalid is run once more "
        "(a passing stall of the machine is not the generator's limit); the second run counts, "
        "and the first run's reasons are kept in earlier_reasons",
    )
    earlier_reasons: list[str] = Field(
        default_factory=list, description="why the first run of a step run twice was invalid"
    )


class Breach(_Model):
    """A threshold that broke at the first level above the capacity, and by how much."""

    level: int
    expr: str
    observed: float | None
    limit: float
    unit: ThresholdUnit
    margin_pct: float | None = Field(description="negative: how far outside the limit, in %")
    message: str


class Promise(_Model):
    """What the spec promises (``capacity: {scenario: ..., users: ">= 100"}``)."""

    expr: str = Field(description="e.g. capacity >= 100 users")
    level: int
    holds: bool | None = Field(
        description="true: a level at or above it held; false: it did not; null: undecided "
        "(the generator's limit came first)"
    )
    message: str


class Knee(_Model):
    """Where the p95 latency starts to grow with the load: below it p95 barely moves, above
    it p95 grows about as fast as the load or faster (log-log slopes of the curve)."""

    level: int
    p95_ms: float
    slope_below: float = Field(description="d log p95 / d log level below the knee")
    slope_above: float = Field(description="d log p95 / d log level above the knee")
    message: str


class CapacityDocument(_Model):
    """The outcome of one capacity search of one spec."""

    format: CapacityFormat = CAPACITY_FORMAT
    format_version: CapacityFormatVersion = CAPACITY_FORMAT_VERSION
    status: CapacityStatus
    message: str = Field(description="the outcome in one sentence")
    spec: SpecIdentity
    run: RunFacts
    search: SearchSettings
    stop: SearchStop = Field(
        description="why the search ended: resolved (to the resolution), top (every level up "
        "to --to held), below_start (--from broke), generator (the generator's limit came "
        "first), dead (the service stopped answering), aborted, error"
    )
    capacity: int | None = Field(
        description="the highest level at which every threshold held; null when none did"
    )
    at_least: bool = Field(
        description="true when the capacity is only a lower bound: nothing above it broke "
        "(every level up to --to held, or the generator's limit came first)"
    )
    breaks_at: int | None = Field(description="the lowest level above the capacity that broke")
    generator_limit: int | None = Field(
        None, description="the level the generator could not deliver, when that ended the search"
    )
    broke: list[Breach] = Field(
        default_factory=list,
        description="the thresholds that broke at breaks_at, the furthest outside first",
    )
    knee: Knee | None = None
    promise: Promise | None = None
    findings: list[str] = Field(default_factory=list)
    not_judged: list[str] = Field(
        default_factory=list,
        description="thresholds of the spec a capacity step does not judge, and why",
    )
    steps: list[Step] = Field(default_factory=list, description="in the order measured")

    @computed_field(  # type: ignore[prop-decorator]
        description="the exit code sla-runner gave (see status)"
    )
    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def step_at(self, level: int) -> Step | None:
        return next((s for s in self.steps if s.level == level), None)


CAPACITY_SCHEMA_ID = "urn:sla-runner:schema:capacity:v1"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def capacity_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the capacity document, as committed at
    schemas/capacity.schema.json. Regenerate it with ``sla-runner schema capacity``."""
    body = CapacityDocument.model_json_schema(mode="serialization")
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": CAPACITY_SCHEMA_ID,
        "title": "sla-runner capacity",
        "description": (
            f"The JSON document sla-runner capacity writes with --json, format "
            f"{CAPACITY_FORMAT} version {CAPACITY_FORMAT_VERSION}. " + CAPACITY_EXIT_CODES_DOC
        ),
        **{k: v for k, v in body.items() if k not in ("title", "description")},
    }


def capacity_json_schema_text() -> str:
    """The schema as committed: 2-space indented JSON with a final newline."""
    return json.dumps(capacity_json_schema(), indent=2, ensure_ascii=False) + "\n"
