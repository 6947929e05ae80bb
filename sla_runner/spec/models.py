"""The SLA spec, format version 1: frozen Pydantic models, unknown keys rejected everywhere.

Load files with :func:`sla_runner.spec.loader.load_spec_v1`, which adds positions to every
error, interpolates ``${VAR}`` and guards against hostile YAML. ``SpecV1.model_validate``
on plain data applies the same rules but reports errors without line numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, model_validator

from sla_runner.spec.checks import UNREADABLE, CheckedModel, Fields, Loc, Problem, under
from sla_runner.spec.fields import (
    DURATION_PATTERN,
    NAME_PATTERN,
    DurationField,
    Flag,
    FrozenModel,
    Name,
    RateField,
    ThinkTime,
    ThinkTimeField,
    ThresholdExpr,
)
from sla_runner.spec.parts import (
    DEFER_REFERENCES,
    ENV_NAME_PATTERN,
    MAX_USERS,
    Channel,
    ChannelExpect,
    EndpointBase,
    Expect,
    ProcessSelector,
    Target,
    ThresholdItem,
    ThresholdRule,
    as_rule,
    series_aliases,
)
from sla_runner.spec.suggest import did_you_mean
from sla_runner.spec.thresholds import LATENCY_METRICS, Threshold, series_problem
from sla_runner.spec.units import MAX_MIX_WHEEL, Duration, Rate, mix_counts, parse_percent

__all__ = [
    "DEFER_REFERENCES",
    "DURATION_PATTERN",
    "ENV_NAME_PATTERN",
    "FORMAT_VERSION",
    "MAX_USERS",
    "NAME_PATTERN",
    "Channel",
    "ChannelExpect",
    "DurationField",
    "Endpoint",
    "EndpointBase",
    "Expect",
    "Load",
    "Name",
    "ProcessSelector",
    "Rate",
    "RateField",
    "References",
    "SpecV1",
    "Stage",
    "Target",
    "ThinkTime",
    "ThinkTimeField",
    "Threshold",
    "ThresholdExpr",
    "ThresholdItem",
    "ThresholdRule",
    "reference_problems",
]

FORMAT_VERSION = 1


_Model = FrozenModel


class Endpoint(EndpointBase):
    weight: float = Field(
        1,
        gt=0,
        le=1_000_000,
        description="share of the endpoint mix, exact: the weights, read as the decimals "
        "written and reduced to whole numbers (1 : 2000, 0.5 : 1.5 = 1 : 3), may add up to "
        f"at most {MAX_MIX_WHEEL:,}",
    )
    timeout: DurationField | None = None
    http2: Flag = Field(False, description="use HTTP/2 (through httpx)")
    expect: Expect = Field(default_factory=Expect)


class Stage(CheckedModel):
    moved_fields: ClassVar[dict[str, str]] = {
        "warmup": "warmup is format 2's (a stage whose first seconds no threshold judges): "
        "write version: 2 (sla-runner migrate writes a version-1 file's format-2 equivalent)",
    }

    name: Name | None = None
    duration: DurationField
    users: int | None = Field(None, ge=0, le=MAX_USERS, description="closed model: target level")
    rate: RateField | None = Field(None, description="open model: arrivals, e.g. 200/s")

    @classmethod
    def checks(cls, fields: Fields) -> list[Problem]:
        problems: list[Problem] = []
        if ("users" in fields.given) == ("rate" in fields.given):
            problems.append(((), "give exactly one of users (closed model) or rate (open model)"))
        duration = fields["duration"]
        if isinstance(duration, Duration) and duration.ns <= 0:
            problems.append((("duration",), f"must be above 0, got {duration}"))
        return problems


class Load(CheckedModel):
    stages: list[Stage] = Field(min_length=1, max_length=1000)
    think_time: ThinkTimeField = Field(ThinkTime(min=Duration(0), max=Duration(0)))
    max_in_flight: int = Field(
        10_000,
        ge=1,
        le=MAX_USERS,
        description="open model: arrivals in flight before new ones are dropped",
    )
    graceful_stop: DurationField = Field(
        Duration.parse("5s"),
        description="time in-flight work gets to finish at the end (at least the longest timeout)",
    )

    @property
    def model(self) -> Literal["closed", "open"]:
        return "closed" if self.stages[0].users is not None else "open"

    @classmethod
    def checks(cls, fields: Fields) -> list[Problem]:
        problems: list[Problem] = []
        written = fields.items.get("stages", [])
        stages = [s for s in written if s is not None]
        if written and len(stages) == len(written) and all(_sends(s) is False for s in stages):
            problems.append(
                (("stages",), "every stage has 0 users or 0/s: the spec would send nothing")
            )
        kinds = {
            "closed" if "users" in s.given else "open"
            for s in stages
            if ("users" in s.given) != ("rate" in s.given)
        }
        if len(kinds) > 1:
            problems.append(
                (
                    (),
                    "stages mix users (closed model) and rate (open model); use one model per spec",
                )
            )
        names = [s["name"] for s in stages if isinstance(s["name"], str)]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            problems.append(((), f"stage names must be unique; repeated: {', '.join(duplicated)}"))
        return problems


def _sends(stage: Fields) -> bool | None:
    """Whether a stage asks for any load; None when that cannot be read."""
    users, rate = stage["users"], stage["rate"]
    if users is UNREADABLE or rate is UNREADABLE:
        return None
    return bool(users) or (rate is not None and rate.per_s > 0)


class SpecV1(_Model):
    """An SLA spec, format version 1."""

    version: Literal[1] = Field(description="format version of this file")
    name: Name
    sla_version: str = Field(min_length=1, description="version of the contract itself, e.g. 2.3.0")
    owner: str | None = None
    description: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    target: Target
    endpoints: dict[Name, Endpoint] = Field(default_factory=dict)
    channels: dict[Name, Channel] = Field(default_factory=dict)
    load: Load
    thresholds: list[ThresholdItem] = Field(default_factory=list)
    public_vars: list[Annotated[str, Field(pattern=ENV_NAME_PATTERN)]] = Field(
        default_factory=list,
        description="environment variables whose values are not secret (e.g. BASE_URL); "
        "every other ${VAR} value is redacted from reports, but those in thresholds and "
        "capacity (the contract, reported as it is)",
    )

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> SpecV1:
        if info.context and info.context.get(DEFER_REFERENCES):
            return self
        problems = reference_problems(References.of(self))
        if problems:
            path, message = problems[0]
            raise ValueError(f"{path}: {message}")
        return self

    def stage_names(self) -> list[str]:
        return [s.name for s in self.load.stages if s.name is not None]


Spec = SpecV1  # its name before format 2's model became the one every stage reads


@dataclass(frozen=True)
class RuleRefs:
    """What the cross-reference checks read of one threshold."""

    index: int
    expr: Threshold | None  # None: the expression did not parse (its own error says why)
    during: str | None
    during_known: bool = True  # False: ``during`` was written but is not a name


@dataclass(frozen=True)
class References:
    """What the cross-reference checks read of a spec. ``None`` where it cannot be read
    (a spec that failed validation there): the checks that need it are left out."""

    endpoints: frozenset[str] | None
    channels: frozenset[str] | None
    model: Literal["closed", "open"] | None
    stages: list[str] | None
    process: bool | None
    thresholds: list[RuleRefs]
    weights: dict[str, float] | None = None  # of the endpoints whose weight can be read
    series: frozenset[str] | None = None  # target.metrics' aliases (empty: no target.metrics)

    @classmethod
    def of(cls, spec: SpecV1) -> References:
        return cls(
            endpoints=frozenset(spec.endpoints),
            channels=frozenset(spec.channels),
            model=spec.load.model,
            stages=spec.stage_names(),
            process=spec.target.process is not None,
            thresholds=[RuleRefs(i, r.expr, r.during) for i, r in enumerate(spec.thresholds)],
            weights={name: e.weight for name, e in spec.endpoints.items()},
            series=frozenset(spec.target.metrics.series if spec.target.metrics else ()),
        )

    @classmethod
    def readable(cls, data: Any, errors: list[Loc]) -> References:
        """What can be read of data that did not validate (``errors`` are the locations of
        its errors), so that a spec with a typo in one place still has its thresholds
        checked against its endpoints and stages in the same round."""
        data = data if isinstance(data, dict) else {}
        names = {
            key: frozenset(k for k in v if isinstance(k, str)) if isinstance(v, dict) else None
            for key in ("endpoints", "channels")
            for v in [data.get(key, {})]
        }
        load, target = data.get("load"), data.get("target")
        stages = load.get("stages") if isinstance(load, dict) else None
        model: Literal["closed", "open"] | None = None
        stage_names: list[str] | None = None
        if isinstance(stages, list):
            written = [st for st in stages if isinstance(st, dict)]
            kinds = {"users" in st for st in written if ("users" in st) != ("rate" in st)}
            model = None if len(kinds) != 1 else "closed" if kinds.pop() else "open"
            stage_names = [st["name"] for st in written if isinstance(st.get("name"), str)]
        items = data.get("thresholds")
        rules: list[RuleRefs] = []
        for i, item in enumerate(items if isinstance(items, list) else []):
            rule = as_rule(item)
            if isinstance(rule, dict):
                view = Fields.of_data(ThresholdRule, rule, under(errors, ("thresholds", i)))
                expr, during = view["expr"], view["during"]
                known = during is not UNREADABLE
                rules.append(
                    RuleRefs(
                        i,
                        expr if isinstance(expr, Threshold) else None,
                        during if known else None,
                        known,
                    )
                )
        weights: dict[str, float] = {}
        endpoints = data.get("endpoints")
        for name, raw in endpoints.items() if isinstance(endpoints, dict) else []:
            if isinstance(raw, dict):
                weight = Fields.of_data(Endpoint, raw, under(errors, ("endpoints", name)))
                if isinstance(weight["weight"], float | int):
                    weights[name] = weight["weight"]
        return cls(
            endpoints=names["endpoints"],
            channels=names["channels"],
            model=model,
            stages=stage_names,
            process=target.get("process") is not None if isinstance(target, dict) else None,
            thresholds=rules,
            weights=weights,
            series=series_aliases(target),
        )


def reference_problems(refs: References) -> list[Problem]:
    """Cross-references a single field cannot check: (path, message) for each problem."""
    problems: list[Problem] = []
    endpoints, channels = refs.endpoints, refs.channels
    if endpoints is not None and channels is not None and not endpoints and not channels:
        problems.append(((), "declare at least one endpoint or channel"))
    if refs.weights and sum(mix_counts(refs.weights.values())) > MAX_MIX_WHEEL:
        problems.append(_mix_too_long(refs.weights))
    if refs.model == "open" and channels:
        problems.append(
            (
                ("channels",),
                "channels are held open by virtual users, which the open model (rate) does "
                "not have; use users stages, or run the channels from a closed-model spec",
            )
        )
    seen: dict[tuple[object, ...], RuleRefs] = {}
    for rule in refs.thresholds:
        problems += _threshold_problems(rule, refs)
        t = rule.expr
        if t is None or not rule.during_known:
            continue
        same = seen.setdefault(
            (t.metric, t.scope, t.stat, t.op, t.limit, t.unit, rule.during), rule
        )
        if same is not rule:
            where = f" during {rule.during!r}" if rule.during else ""
            first = same.expr.text if same.expr is not None else ""
            problems.append(
                (
                    ("thresholds", rule.index, "expr"),
                    f"{t.text}{where} is already thresholds[{same.index}] ({first}): judge it once",
                )
            )
    return problems


def _threshold_problems(rule: RuleRefs, refs: References) -> list[Problem]:
    """What one threshold names that the spec does not have: an endpoint, a channel, a
    process to sample, a stage."""
    problems: list[Problem] = []
    at = ("thresholds", rule.index, "expr")
    t = rule.expr
    if t is not None:
        declared = refs.endpoints if t.metric == "http" else refs.channels
        unknown_series = series_problem(t, refs.series)
        if unknown_series is not None:
            problems.append((at, unknown_series))
        elif t.scope is not None and t.metric in LATENCY_METRICS:
            kind = "endpoint" if t.metric == "http" else "channel"
            if declared is not None and t.scope not in declared:
                valid = ", ".join(sorted(declared)) or "none declared"
                problems.append(
                    (
                        at,
                        f"{t.selector}: no {kind} named {t.scope!r}; declared: {valid}"
                        + did_you_mean(t.scope, sorted(declared)),
                    )
                )
        elif t.metric in ("ws", "ws_connect") and declared is not None and not declared:
            problems.append((at, f"{t.metric}: the spec declares no channels"))
        elif t.metric == "http" and declared is not None and not declared:
            problems.append((at, "http: the spec declares no endpoints"))
        if t.metric.startswith("process.") and refs.process is False:
            problems.append((at, f"{t.metric} needs target.process to say which process to sample"))
    if rule.during is not None and refs.stages is not None and rule.during not in refs.stages:
        stages = list(dict.fromkeys(refs.stages))
        message = (
            f"no stage named {rule.during!r}; stages: {', '.join(stages)}"
            + did_you_mean(rule.during, stages)
            if stages
            else f"no stage named {rule.during!r}: no stage has a name; name the stage it "
            f"means ({{name: {rule.during}, duration: ...}})"
        )
        problems.append((("thresholds", rule.index, "during"), message))
    return problems


def _mix_too_long(weights: dict[str, float]) -> Problem:
    total = sum(mix_counts(weights.values()))
    light = min(weights, key=lambda name: weights[name])
    heavy = max(weights, key=lambda name: weights[name])
    w_light, w_heavy = weights[light], weights[heavy]
    needs = f"{total:,}" if total < 10**15 else "more than 10^15"
    return (
        ("endpoints", light, "weight"),
        f"the weights ({light} {w_light:,.15g} … {heavy} {w_heavy:,.15g}) make an exact "
        f"mix that comes round only after {needs} requests (the weights in lowest whole numbers, "
        f"added up); at most {MAX_MIX_WHEEL:,} are supported, i.e. up to "
        f"1 : {MAX_MIX_WHEEL - 1:,} between two endpoints; round the weights",
    )


def percent_value(text: str) -> float:
    return float(parse_percent(text))
