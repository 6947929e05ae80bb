"""Field types of the spec models: values written as text with a unit, parsed once.

Each type validates from the string a person wrote, serialises back to that spelling and
describes itself in the JSON Schema as a string with a pattern and examples.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import WithJsonSchema
from pydantic_core import PydanticCustomError

from sla_runner.spec.thresholds import (
    FLOW_METRIC,
    Threshold,
    ThresholdSyntaxError,
    parse_threshold,
)
from sla_runner.spec.units import Duration, Rate

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"
DURATION_PATTERN = r"^\s*(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+\s*$"
RATE_PATTERN = r"^\s*\d+(\.\d+)?\s*/\s*(s|m|h)\s*$"

_T = TypeVar("_T")


class FrozenModel(BaseModel):
    """Base of every spec model: immutable, unknown keys rejected, and no number field takes
    a boolean (Pydantic would read ``max_in_flight: true`` as 1, ``weight: true`` as 1)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=False)

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_are_not_flags(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name is None or not _numbers_only(
            cls.model_fields[info.field_name].annotation
        ):
            return value
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, bool):
                got = "true" if item else "false"
                raise PydanticCustomError("number", "expected a number, got {got}", {"got": got})
        return value


def _numbers_only(annotation: Any) -> bool:
    """Whether a field's type holds numbers (int, float, a literal number such as
    ``version: 1``, lists or optionals of them) and never a boolean."""
    seen: set[Any] = set()
    pending = [annotation]
    while pending:
        kind = pending.pop()
        seen.add(kind)
        if get_origin(kind) is Literal:
            seen.update(type(arg) for arg in get_args(kind))
            continue
        pending.extend(a for a in get_args(kind) if isinstance(a, type) or get_args(a))
    return bool(seen & {int, float}) and bool not in seen


def _parse_text(kind: str, example: str, parse: Callable[[str], _T], value: Any) -> _T:
    """Parse ``value`` with ``parse``; a non-string or bad string becomes a Pydantic error."""
    if isinstance(value, str):
        try:
            return parse(value)
        except ValueError as exc:
            raise PydanticCustomError(kind, "{message}", {"message": str(exc)}) from None
    raise PydanticCustomError(
        kind,
        "expected a {kind} written with its unit, like {example}, got {got}",
        {"kind": kind, "example": example, "got": repr(value)},
    )


def _duration(value: Any) -> Duration:
    if isinstance(value, Duration):
        return value
    return _parse_text("duration", "5s or 250ms", Duration.parse, value)


def _rate(value: Any) -> Rate:
    if isinstance(value, Rate):
        return value
    return _parse_text("rate", "50/s or 3000/m", Rate.parse, value)


DurationField = Annotated[
    Duration,
    PlainValidator(_duration),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": DURATION_PATTERN, "examples": ["250ms", "5s", "1h30m"]}
    ),
]
RateField = Annotated[
    Rate,
    PlainValidator(_rate),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": RATE_PATTERN, "examples": ["50/s", "3000/m"]}),
]
Name = Annotated[str, Field(pattern=NAME_PATTERN)]


def _flag(value: Any) -> bool:
    """``true`` or ``false`` only: Pydantic's lax booleans would read ``off``, ``no``, ``1``
    or ``y`` as one, against the YAML rule that only true/false are booleans. The text
    ``true``/``false`` is accepted, as a ``${VAR}`` interpolation gives it."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip() in ("true", "false"):
        return value.strip() == "true"
    raise PydanticCustomError("flag", "expected true or false, got {got}", {"got": repr(value)})


Flag = Annotated[bool, PlainValidator(_flag), WithJsonSchema({"type": "boolean"})]


class ThinkTime(FrozenModel):
    """Pause between one user's iterations: fixed (min == max) or uniform in min..max."""

    min: DurationField
    max: DurationField


def _think_time(value: Any) -> ThinkTime:
    if isinstance(value, ThinkTime):
        return value
    if isinstance(value, str) and ".." in value:
        low, _, high = value.partition("..")
        lo, hi = _duration(low), _duration(high)
        if hi < lo:
            raise PydanticCustomError(
                "think_time", "think_time range {text} runs backwards", {"text": repr(value)}
            )
        return ThinkTime(min=lo, max=hi)
    fixed = _duration(value)
    return ThinkTime(min=fixed, max=fixed)


ThinkTimeField = Annotated[
    ThinkTime,
    PlainValidator(_think_time),
    PlainSerializer(
        lambda t: str(t.min) if t.min == t.max else f"{t.min}..{t.max}", return_type=str
    ),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\s*[0-9.a-zµ]+\s*(\.\.\s*[0-9.a-zµ]+\s*)?$",
            "examples": ["100ms", "1s..3s"],
        }
    ),
]


def _threshold(value: Any, *, flows: bool = False) -> Threshold:
    if isinstance(value, Threshold):
        if value.metric == FLOW_METRIC and not flows:
            return parse_threshold(value.text)  # raises: format 1 has no flow metric
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(
            "threshold",
            "expected a threshold expression like 'p95(http) < 200ms', got {got}",
            {"got": repr(value)},
        )
    try:
        return parse_threshold(value, flows=flows)
    except ThresholdSyntaxError as exc:
        raise PydanticCustomError("threshold", "{message}", {"message": str(exc)}) from None


THRESHOLD_EXPR_SCHEMA: dict[str, Any] = {
    "type": "string",
    "description": "STAT(METRIC) OP VALUE[UNIT], or users OP N",
    "examples": ["p95(http) < 200ms", "success_rate(http) > 99%", "users >= 100"],
}

ThresholdExpr = Annotated[
    Threshold,
    PlainValidator(_threshold),
    PlainSerializer(lambda t: t.text, return_type=str),
    WithJsonSchema(THRESHOLD_EXPR_SCHEMA),
]

THRESHOLD_EXPR_V2_SCHEMA: dict[str, Any] = {
    **THRESHOLD_EXPR_SCHEMA,
    "examples": [*THRESHOLD_EXPR_SCHEMA["examples"], "p95(flow.shoppers) < 2s"],
}

# Format 2's expressions: format 1's, and the metric flow.<scenario>.
ThresholdExprV2 = Annotated[
    Threshold,
    PlainValidator(lambda value: _threshold(value, flows=True)),
    PlainSerializer(lambda t: t.text, return_type=str),
    WithJsonSchema(THRESHOLD_EXPR_V2_SCHEMA),
]
