"""A format-2 spec at one capacity level: the scenario's load replaced by a warm-up and a step.

The scenario searched holds the level from its first instant for the warm-up (a stage named
``warm-up``, left out of every threshold) and then for the step (``step``); the other
scenarios are left out (the capacity is one scenario's), and with them the thresholds scoped
to them. Every other threshold is judged ``during`` the step, once (the same threshold
written for several stages is one threshold over the step); thresholds of the load's size
(``users``, ``count``, ``rate``) judge the load the spec drives, which the search sets: they
are not judged. Pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from sla_runner.capacity.outcome import PromisedLevel
from sla_runner.spec.format2 import SpecV2
from sla_runner.spec.parts import ThresholdRuleV2
from sla_runner.spec.units import Duration

__all__ = [
    "DEFAULT_STEP",
    "STEP_STAGE",
    "WARMUP_STAGE",
    "StepTiming",
    "default_step_duration",
    "judged_rules",
    "peak_level",
    "promised_level",
    "scenario_models",
    "step_spec",
]

WARMUP_STAGE = "warm-up"
STEP_STAGE = "step"
DEFAULT_STEP = Duration.parse("30s")
LOAD_SIZE_STATS = ("count", "rate")


@dataclass(frozen=True)
class StepTiming:
    duration: Duration  # the whole step, warm-up included
    warmup: Duration

    def __post_init__(self) -> None:
        if not 0 < self.warmup.ns < self.duration.ns:
            raise ValueError(
                f"the warm-up ({self.warmup}) must be above 0s and shorter than the step "
                f"({self.duration})"
            )

    @property
    def judged(self) -> Duration:
        return Duration(self.duration.ns - self.warmup.ns)


def scenario_models(spec: SpecV2) -> dict[str, Literal["closed", "open"]]:
    return {name: scenario.model for name, scenario in spec.scenarios.items()}


def promised_level(spec: SpecV2) -> PromisedLevel | None:
    """The spec's ``capacity`` promise, with its scenario named."""
    promise = spec.capacity
    if promise is None:
        return None
    scenario = promise.scenario or next(iter(spec.scenarios))
    return PromisedLevel(scenario, promise.level, "users" if promise.model == "closed" else "/s")


def default_step_duration(spec: SpecV2, scenario: str) -> Duration:
    """The scenario's steady stage: the one named ``steady``, else its longest stage that
    holds its level (not a ramp); 30s when it has none."""
    stages = spec.scenarios[scenario].load.stages
    named = [s for s in stages if s.name == "steady"]
    if named:
        return named[0].duration
    return max((s.duration for s in stages if s.ramp_to is None), default=DEFAULT_STEP)


def peak_level(spec: SpecV2, scenario: str) -> int:
    """The highest level the scenario's load reaches: users, or arrivals per second (up)."""
    ramps = spec.scenarios[scenario].load.ramps()
    return max(1, math.ceil(max(max(r.from_level, r.to_level) for r in ramps)))


def _load_size(rule: ThresholdRuleV2) -> bool:
    return rule.expr.metric == "users" or rule.expr.stat in LOAD_SIZE_STATS


def _other_traffic(spec: SpecV2, scenario: str, rule: ThresholdRuleV2) -> str | None:
    """Why ``rule`` judges traffic the searched scenario does not make, if it does."""
    t, searched = rule.expr, spec.scenarios[scenario]
    if rule.scenario is not None and rule.scenario != scenario:
        return f"this judges scenario {rule.scenario!r}"
    if t.metric == "flow" and t.scope != scenario:
        return f"this judges the flow of {t.scope!r}"
    if t.metric == "http" and t.scope is not None and t.scope not in searched.sends():
        return f"it does not send {t.scope!r}"
    if t.metric in ("ws", "ws_connect"):
        if not searched.channels:
            return "it holds no channels"
        if t.scope is not None and t.scope not in searched.channels:
            return f"it does not hold channel {t.scope!r}"
    return None


def judged_rules(
    spec: SpecV2, scenario: str, judged: Duration | None = None
) -> tuple[list[ThresholdRuleV2], list[str]]:
    """The thresholds a step of ``scenario`` judges, and why the others are not judged
    (``judged``: how long a step is judged; a window or for longer than that is left out)."""
    kept: dict[tuple[object, ...], ThresholdRuleV2] = {}
    left_out: list[str] = []
    for rule in spec.thresholds:
        t = rule.expr
        other = _other_traffic(spec, scenario, rule)
        if other is not None:
            left_out.append(f"{t.text}: the search runs scenario {scenario!r} alone; {other}")
            continue
        if _load_size(rule):
            left_out.append(f"{t.text}: judges the load's size, which the search sets")
            continue
        longer = _longer_than_step(rule, judged)
        if longer is not None:
            left_out.append(longer)
            continue
        key = (
            t.metric,
            t.scope,
            t.stat,
            t.op,
            t.limit,
            t.unit,
            rule.window,
            rule.for_,
            rule.warmup,
        )
        first = kept.get(key)
        if first is None or (first.severity == "warn" and rule.severity == "fail"):
            kept[key] = rule
    return list(kept.values()), left_out


def _longer_than_step(rule: ThresholdRuleV2, judged: Duration | None) -> str | None:
    """Why a threshold over windows cannot be judged on a step judged for ``judged``: its
    window or for does not fit after its warmup, or its warmup leaves nothing."""
    if judged is None:
        return None
    warmup = rule.warmup.ns if rule.warmup else 0
    if warmup >= judged.ns:
        return f"{rule.expr.text} (warmup {rule.warmup}): leaves nothing of the {judged} judged"
    for key, value in (("window", rule.window), ("for", rule.for_)):
        if value is not None and value.ns + warmup > judged.ns:
            return f"{rule.expr.text} ({key} {value}): longer than the {judged} a step is judged"
    return None


def step_spec(spec: SpecV2, scenario: str, level: int, timing: StepTiming) -> SpecV2:
    """``spec`` with ``scenario`` alone, holding ``level`` for the warm-up and the step, every
    threshold judged during the step (see the module)."""
    data: dict[str, Any] = spec.model_dump(by_alias=True, exclude_unset=True)
    key = "users" if spec.scenarios[scenario].model == "closed" else "rate"
    value: int | str = level if key == "users" else f"{level}/s"
    searched = {k: v for k, v in data["scenarios"][scenario].items() if k != "start"}
    searched["load"] = {
        **searched["load"],
        "stages": [
            {"name": WARMUP_STAGE, "duration": str(timing.warmup), key: value},
            {"name": STEP_STAGE, "duration": str(timing.judged), key: value},
        ],
    }
    data["scenarios"] = {scenario: searched}
    rules, _ = judged_rules(spec, scenario, timing.judged)
    data["thresholds"] = [
        {
            **rule.model_dump(by_alias=True, exclude_unset=True, exclude={"during"}),
            "during": STEP_STAGE,
        }
        for rule in rules
    ]
    return SpecV2.model_validate(data)
