"""The SLA spec, format version 2: scenarios, flows, captured values, data tables, explicit ramps.

Frozen Pydantic models, unknown keys rejected everywhere, as format 1
(:mod:`sla_runner.spec.models`). Load files with
:func:`sla_runner.spec.document.load_document`, which reads both versions (a version-1 file
becomes a one-scenario format-2 spec, :func:`sla_runner.spec.convert.from_v1`), adds
positions to every error, loads the data tables and checks every template.

What each mapping checks by itself is here; what reads across the spec (a step naming an
endpoint, a threshold naming a scenario or a stage, a template naming a value) is in
:mod:`sla_runner.spec.crossref2` and :mod:`sla_runner.spec.templated`. ``Spec.model_validate``
runs those too (unless the context defers them, as the loader does to place every problem),
except what needs a data file's columns: the loader reads the files.

Load semantics, for the plan and the engine:

- A stage **holds** its level from its first instant (``users: 100``, ``rate: 200/s``); a
  ``ramp_to`` moves linearly from the previous stage's level (0 before the first stage) to
  its own. :meth:`LoadV2.ramps` gives each stage's levels, exactly.
- A closed scenario runs virtual users: each deals its ``user`` tables, runs ``setup`` once,
  opens the scenario's ``channels`` (held for its lifetime), then repeats passes: each pass
  deals the ``pass`` tables and runs the ``flow`` in order (or, with a ``mix``, sends one
  request of the weighted mix), thinking after each step.
- An open scenario starts arrivals at its rate; with a ``flow`` each arrival is a fresh user
  (its own variables and rows) that runs ``setup`` (if any) and then the flow once; with a
  ``mix`` each arrival is one request.
- ``before`` runs once per run (per segment), before the clock starts, outside every metric;
  what it extracts every user of every scenario sees.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, model_validator
from pydantic.json_schema import WithJsonSchema

from sla_runner.spec.capacity2 import CapacityPromise
from sla_runner.spec.checks import CheckedModel, Fields, Problem
from sla_runner.spec.fields import (
    NAME_PATTERN,
    THRESHOLD_EXPR_V2_SCHEMA,
    DurationField,
    Flag,
    FrozenModel,
    Name,
    ThinkTimeField,
)
from sla_runner.spec.load2 import (
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_THINK_TIME,
    LoadV2,
    Ramp,
    StageV2,
    stage_kind,
)
from sla_runner.spec.parts import (
    DEFER_REFERENCES,
    ENV_NAME_PATTERN,
    Channel,
    EndpointBase,
    Expect,
    Target,
    ThresholdRuleV2,
    as_rule,
)
from sla_runner.spec.units import MAX_MIX_WHEEL, Duration

FORMAT_VERSION_2 = 2
__all__ = [
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_THINK_TIME",
    "FORMAT_VERSION_2",
    "TABLE_PATTERN",
    "VAR_PATTERN",
    "CapacityPromise",
    "DataTable",
    "EndpointV2",
    "ExpectV2",
    "Extract",
    "LoadV2",
    "Ramp",
    "Scenario",
    "Spec",
    "SpecV2",
    "StageV2",
    "Step",
    "TargetV2",
    "ThresholdRuleV2",
    "stage_kind",
]
VAR_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"  # a template variable: {{ token }}
TABLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$"  # a table: {{ accounts.user }}

VarName = Annotated[str, Field(pattern=VAR_PATTERN)]
TableName = Annotated[str, Field(pattern=TABLE_PATTERN)]
Weight = Annotated[
    float,
    Field(
        gt=0,
        le=1_000_000,
        description="share of the mix, exact: the weights, read as the decimals written and "
        "reduced to whole numbers (1 : 2000, 0.5 : 1.5 = 1 : 3), may add up to at most "
        f"{MAX_MIX_WHEEL:,}",
    ),
]
Mode = Literal["user", "pass"]


class TargetV2(Target):
    cookies: Flag = Field(
        False,
        description="give every virtual user its own cookie jar (RFC 6265): cookies a response "
        "sets are sent back on that user's later requests",
    )


class Extract(CheckedModel):
    """Where a response holds a value for the user's later steps (``{{ NAME }}``)."""

    json_path: str | None = Field(
        None, alias="json", description="a dotted path into the JSON body: data.items[0].id"
    )
    header: str | None = Field(None, description="a response header (the first of that name)")
    cookie: str | None = Field(None, description="a cookie this response sets (Set-Cookie)")
    regex: str | None = Field(
        None,
        description="searched in the body, or in the json/header/cookie value; the value is "
        "group 1, or the whole match without a group",
    )

    @classmethod
    def checks(cls, fields: Fields) -> list[Problem]:
        given = [k for k in ("json_path", "header", "cookie") if k in fields.given]
        if len(given) > 1 or not (given or "regex" in fields.given):
            return [((), "give one of json, header or cookie (optionally with regex), or regex")]
        return []

    def as_mapping(self) -> dict[str, str]:
        """The extractor as :func:`sla_runner.engine.extract.compile_extractor` takes it."""
        written = self.model_dump(by_alias=True, exclude_none=True)
        return {key: str(value) for key, value in written.items()}


class ExpectV2(Expect):
    json_fields: dict[str, Any] | None = Field(
        None,
        alias="json",
        description="the body is JSON and these dotted paths (data.items[0].id) hold these values",
    )


class EndpointV2(EndpointBase):
    """An HTTP request; its text fields are templates (``{{ token }}``)."""

    moved_fields: ClassVar[dict[str, str]] = {
        "weight": "format 2 has no endpoint weights: a scenario's mix gives them "
        "(mix: {list-items: 3, get-item: 1})",
    }

    timeout: DurationField | None = None
    http2: Flag = Field(False, description="use HTTP/2 (through httpx)")
    expect: ExpectV2 = Field(default_factory=ExpectV2)
    extract: dict[VarName, Extract] = Field(
        default_factory=dict, description="values this response gives the user's later steps"
    )


class Step(FrozenModel):
    """One step of a flow, a setup or ``before``: an endpoint's request."""

    request: Name = Field(description="the endpoint whose request this step sends")
    think_time: ThinkTimeField | None = Field(
        None, description="the pause after this step, instead of the scenario's think_time"
    )


def as_step(value: Any) -> Any:
    """A step written as a bare endpoint name is a step's ``request``."""
    return {"request": value} if isinstance(value, str) else value


StepItem = Annotated[
    Step,
    BeforeValidator(
        as_step,
        json_schema_input_type=Annotated[
            str, WithJsonSchema({"type": "string", "pattern": NAME_PATTERN})
        ]
        | Step,
    ),
]


class DataTable(CheckedModel):
    """A table of values, dealt a row at a time to users (``user``) or passes (``pass``)."""

    file: str | None = Field(
        None,
        description="a CSV file with a header row, or .json (a list of objects) or "
        ".jsonl/.ndjson (an object per line); relative to the spec file's folder",
    )
    rows: list[dict[str, Any]] | None = Field(None, description="rows written in the spec")
    unique: Flag = Field(
        False,
        description="never deal a row twice: once every row is dealt, no new user (or pass) "
        "that needs one starts, and each refusal is counted (default: start again)",
    )
    public: Flag = Field(
        False,
        description="a file's values may be shown in reports (default: they are secrets); "
        "inline rows are written in the spec, so they are public",
    )

    @classmethod
    def checks(cls, fields: Fields) -> list[Problem]:
        problems: list[Problem] = []
        if ("file" in fields.given) == ("rows" in fields.given):
            problems.append(((), "give exactly one of file or rows"))
        if "rows" in fields.given and fields["public"] is True:
            problems.append(
                (("public",), "inline rows are written in the spec, so they are public already")
            )
        return problems


class Scenario(FrozenModel):
    """One load model and what its users (or arrivals) do."""

    load: LoadV2
    start: DurationField = Field(
        Duration(0), description="when the scenario starts, from the run's start (default 0s)"
    )
    data: dict[TableName, Mode] = Field(
        default_factory=dict,
        description="tables this scenario's users read: a new row per user, or per pass",
    )
    setup: list[StepItem] = Field(
        default_factory=list,
        description="steps a user runs once, before its first pass (counted as traffic)",
    )
    flow: list[StepItem] | None = Field(
        None, min_length=1, description="ordered steps, repeated for the user's lifetime"
    )
    mix: dict[Name, Weight] | None = Field(
        None, min_length=1, description="weighted independent requests: endpoint → weight"
    )
    channels: list[Name] = Field(
        default_factory=list,
        description="WebSocket channels each user holds open (closed model only)",
    )

    @property
    def model(self) -> Literal["closed", "open"]:
        return self.load.model

    def sends(self) -> list[str]:
        """The endpoints this scenario's traffic holds: setup, flow and mix, in order."""
        steps = [s.request for s in [*self.setup, *(self.flow or [])]]
        return list(dict.fromkeys([*steps, *(self.mix or {})]))


ThresholdItemV2 = Annotated[
    ThresholdRuleV2,
    BeforeValidator(
        as_rule,
        json_schema_input_type=Annotated[str, WithJsonSchema(THRESHOLD_EXPR_V2_SCHEMA)]
        | ThresholdRuleV2,
    ),
]

# Validation context key (besides DEFER_REFERENCES): the columns of the tables read from
# files (name → columns), so that templates naming them are checked too.
TABLE_COLUMNS = "table_columns"


class Spec(FrozenModel):
    """An SLA spec, format version 2."""

    moved_fields: ClassVar[dict[str, str]] = {
        "load": "format 2 gives each scenario its own load: "
        "scenarios: {NAME: {load: {stages: [...]}, mix: {...}}}",
    }

    version: Literal[2] = Field(description="format version of this file")
    name: Name
    sla_version: str = Field(min_length=1, description="version of the contract itself, e.g. 3.0.0")
    owner: str | None = None
    description: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    target: TargetV2
    data: dict[TableName, DataTable] = Field(
        default_factory=dict, description="named tables of values (feeders)"
    )
    before: list[StepItem] = Field(
        default_factory=list,
        description="steps run once per run (per segment) before the clock starts, outside "
        "every metric; what they extract every user sees",
    )
    endpoints: dict[Name, EndpointV2] = Field(default_factory=dict)
    channels: dict[Name, Channel] = Field(default_factory=dict)
    scenarios: dict[Name, Scenario] = Field(
        min_length=1, description="each its own load model, run side by side"
    )
    thresholds: list[ThresholdItemV2] = Field(default_factory=list)
    capacity: CapacityPromise | None = Field(
        None,
        description="the load a scenario promises to hold every threshold at, judged by "
        "sla-runner capacity: {scenario: NAME, users: '>= 100'} or {rate: '>= 500/s'}",
    )
    public_vars: list[Annotated[str, Field(pattern=ENV_NAME_PATTERN)]] = Field(
        default_factory=list,
        description="environment variables whose values are not secret (e.g. BASE_URL); "
        "every other ${VAR} value is redacted from reports, but those in thresholds and "
        "capacity (the contract, reported as it is)",
    )

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> Spec:
        context = info.context or {}
        if context.get(DEFER_REFERENCES):
            return self
        from sla_runner.spec.templated import spec_problems  # noqa: PLC0415

        problems = spec_problems(self, context.get(TABLE_COLUMNS))
        if problems:
            raise ValueError(problems[0])
        return self

    def stage_names(self) -> dict[str, str]:
        """Each named stage → its scenario."""
        return {
            stage.name: name
            for name, scenario in self.scenarios.items()
            for stage in scenario.load.stages
            if stage.name is not None
        }


SpecV2 = Spec  # the name format 2's model had before it became the one every stage reads
