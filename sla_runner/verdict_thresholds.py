"""The thresholds of a verdict (format ``sla-runner/verdict`` version 1): each result, a
threshold as the spec wrote it, a window of a threshold over windows, and the id that tells
one threshold from another. :mod:`sla_runner.verdict` holds the rest and re-exports these."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

ThresholdStatus = Literal["pass", "fail", "warn", "skipped", "no_data"]
# A threshold's unit: ms, B, %, /s, none for a count; a slope's B/s or %/s.
ThresholdUnit = Literal["ms", "B", "%", "/s", "", "B/s", "%/s"]


class VerdictModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class ThresholdSpec(VerdictModel):
    """A threshold as the spec wrote it: enough to judge it again."""

    expr: str
    scenario: str | None = Field(
        None, exclude_if=lambda v: v is None, description="format 2: the scenario judged"
    )
    during: str | None = None
    window: str | None = Field(
        None, exclude_if=lambda v: v is None, description="format 2: the window, e.g. 30s"
    )
    for_: str | None = Field(
        None,
        alias="for",
        exclude_if=lambda v: v is None,
        description="format 2: how long a breach must last, e.g. 10s",
    )
    warmup: str | None = Field(
        None, exclude_if=lambda v: v is None, description="format 2: seconds left out, e.g. 10s"
    )
    severity: Literal["fail", "warn"] = "fail"
    description: str | None = None


class WindowResult(VerdictModel):
    """One window of a ``window`` threshold, or one stretch of seconds in a row that breached
    the limit of a ``for`` threshold (it fails the threshold when at least ``for`` long)."""

    start_s: float = Field(description="from the run's start")
    end_s: float = Field(description="from the run's start (the seconds up to, not at, it)")
    observed: float | None = Field(
        description="in the threshold's unit: the window's statistic (a stretch: its worst "
        "second's); null for a window with no samples"
    )
    samples: int
    passed: bool | None = Field(description="whether it held; null for a window with no samples")


def threshold_id(
    expr: str,
    scenario: str | None = None,
    during: str | None = None,
    window: str | None = None,
    for_: str | None = None,
    warmup: str | None = None,
) -> str:
    """What tells one threshold from another: its expression, and its scenario, stage,
    window, for and warmup when it has them (``p95(http) < 200ms (during steady, window
    30s)``). The JUnit case name and the JSON result's ``id``."""
    scope = [f"scenario {scenario}"] if scenario else []
    scope += [f"during {during}"] if during else []
    scope += [f"{k} {v}" for k, v in (("window", window), ("for", for_), ("warmup", warmup)) if v]
    return f"{expr} ({', '.join(scope)})" if scope else expr


class ThresholdResult(VerdictModel):
    expr: str = Field(description="the expression as written")
    metric: str
    scope: str | None = Field(description="endpoint or channel; null for the whole metric")
    stat: str
    op: Literal["<", "<=", ">", ">="]
    limit: float = Field(description="in unit")
    unit: ThresholdUnit = Field(
        description="ms, B, % or /s (per second), none for a count; a slope's B/s or %/s "
        "(per second; /s for a plain number)"
    )
    observed: float | None = Field(description="in unit; null when there was nothing to judge")
    margin: float | None = Field(
        description="how far inside the limit (positive) or outside it (negative), in unit"
    )
    margin_pct: float | None = Field(description="margin as a percentage of the limit")
    samples: int = Field(description="samples the statistic was computed on")
    scenario: str | None = Field(
        None,
        exclude_if=lambda v: v is None,
        description="format 2: the scenario whose traffic (for users: whose users) was judged, "
        "over its window unless during names a stage; absent for every scenario's",
    )
    during: str | None = Field(description="the stage judged; null for the whole run")
    window_s: float = Field(
        description="duration of the judged window: its during stage or the run, as far as "
        "it ran (an aborted run's windows end at its stop)"
    )
    window: str | None = Field(
        None,
        exclude_if=lambda v: v is None,
        description="judged in every tumbling window of this length (observed: the worst "
        "window's value)",
    )
    for_: str | None = Field(
        None,
        alias="for",
        exclude_if=lambda v: v is None,
        description="failed only by a breach sustained this long, second after second "
        "(observed: the value the statistic stayed past for that long at its worst)",
    )
    warmup: str | None = Field(
        None, exclude_if=lambda v: v is None, description="seconds left out at the span's start"
    )
    windows: list[WindowResult] = Field(
        default_factory=list,
        exclude_if=lambda v: not v,
        description="a window threshold: every window; a for threshold: every stretch of "
        "seconds that breached the limit",
    )
    severity: Literal["fail", "warn"]
    passed: bool | None = Field(description="whether the threshold held; null when not evaluated")
    status: ThresholdStatus
    message: str
    description: str | None = None
    trusted: bool | None = Field(
        None,
        description="whether the result is a fact about the service: false in an invalid run "
        "for every result a generator that could not keep up may have changed (all but a "
        "success_rate/error_rate failure the service's own answers make on their own; see "
        "sla_runner.judge.validity); such a standing failure makes the verdict fail, not invalid. "
        "True in a valid run; null in verdicts written before it was recorded",
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_id(cls, data: Any) -> Any:
        """``id`` is written for readers; it follows from the other fields when read."""
        if isinstance(data, dict) and "id" in data:
            data = {k: v for k, v in data.items() if k != "id"}
        return data

    @computed_field(  # type: ignore[prop-decorator]
        description="what tells this threshold from another of the same expression: the "
        "expression and its scenario, stage, window, for and warmup (the JUnit case name)"
    )
    @property
    def id(self) -> str:
        return threshold_id(
            self.expr, self.scenario, self.during, self.window, self.for_, self.warmup
        )
