"""One capacity step: the spec run at one level through the public run path, judged on the
step's window after its warm-up.

:mod:`sla_runner.capacity.stepspec` builds the spec of a step: the searched scenario alone,
holding the level for a ``warm-up`` stage (left out of every threshold) and a ``step`` stage,
every threshold judged ``during`` the step. The run is made with ``--fail-fast``: a dead
service ends the step at once. The step's figures (p50/p95/p99, success rate, the service's
memory and CPU) are read from the verdict's recording, over the step's window only; the
throughput is the requests completed per second of the step (those still queued when it
ended are not).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sla_runner import api
from sla_runner.capacity.document import Step, StepThreshold
from sla_runner.capacity.search import StepOutcome, StepResult
from sla_runner.capacity.stepspec import STEP_STAGE, StepTiming, step_spec
from sla_runner.errors import RunError, SlaRunnerError
from sla_runner.metrics.recording import Recording
from sla_runner.metrics.stats import observe
from sla_runner.spec.thresholds import parse_threshold
from sla_runner.verdict import Verdict, threshold_id

__all__ = ["Interrupted", "Measurer", "step_of"]


class Interrupted(SlaRunnerError):
    """A step was interrupted (Ctrl-C, SIGTERM): the search stops with what it measured."""


def _figure(recording: Recording, text: str, stage: int) -> float | None:
    return observe(recording, parse_threshold(text), stage).value


def step_of(verdict: Verdict, level: int, metric: str) -> Step:
    """A step's figures, thresholds and outcome, from the verdict of its run. ``metric``:
    the requests whose latency the curve shows (``http``, or ``ws`` without endpoints)."""
    recording = Recording.from_dict(verdict.recording) if verdict.recording else None
    outcome: StepOutcome = "held" if verdict.status == "pass" else "broke"
    reasons: list[str] = []
    if verdict.status == "invalid":
        outcome, reasons = "invalid", list(verdict.validity.reasons)
    elif verdict.status == "fail" and recording is not None and recording.aborted:
        outcome = "dead"
        reasons = [verdict.message or "stopped early: no request succeeded for a whole second"]
    thresholds = [
        StepThreshold(
            expr=t.expr,
            id=threshold_id(t.expr, window=t.window, for_=t.for_, warmup=t.warmup),
            severity=t.severity,
            status=t.status,
            observed=t.observed,
            limit=t.limit,
            unit=t.unit,
            margin_pct=t.margin_pct,
            message=t.message,
        )
        for t in verdict.thresholds
    ]
    step = Step(
        level=level,
        phase="ramp",
        outcome=outcome,
        window_s=0.0,
        thresholds=thresholds,
        reasons=reasons,
    )
    if recording is None or STEP_STAGE not in recording.stage_names:
        return step
    stage = recording.stage_index(STEP_STAGE)
    figures = {
        name: _figure(recording, text, stage)
        for name, text in {
            "p50_ms": f"p50({metric}) < 1ms",
            "p95_ms": f"p95({metric}) < 1ms",
            "p99_ms": f"p99({metric}) < 1ms",
            "success_rate_pct": f"success_rate({metric}) > 1%",
            "cpu_max_pct": "max(process.cpu) < 1%",
        }.items()
    }
    rss = _figure(recording, "max(process.rss) < 1MB", stage)
    figures["window_s"] = recording.window_ns(stage) / 1e9
    rows = recording.load_rows(stage)  # seconds of the step: completions in each
    figures["throughput_per_s"] = sum(r.requests for r in rows) / len(rows) if rows else None
    return step.model_copy(update={**figures, "rss_max_bytes": None if rss is None else round(rss)})


@dataclass
class Measurer:
    """``measure(level)`` for the search: runs ``loaded`` at each level it is asked for.

    A step that could not be carried out raises RunError when it is the first (nothing was
    measured: the target is unreachable); later, the service stopped answering (dead). An
    interrupted step raises :class:`Interrupted`. A step whose run was invalid is run once
    more, and the second run counts (``attempts``): a passing stall of a shared machine is
    not the generator's limit, which a second run meets again. ``steps`` keeps every step
    measured, so a search that ends by an exception still has them. ``on_start`` and
    ``on_step`` are told of each step (the CLI prints them)."""

    loaded: api.LoadedSpec
    scenario: str
    timing: StepTiming
    engine: str | None = None
    overrides: dict[str, str] | None = None
    on_start: Callable[[int], None] | None = None
    on_step: Callable[[Step], None] | None = None
    steps: list[Step] = field(default_factory=list)

    def __call__(self, level: int) -> StepResult[Step]:
        step = self._measure(level)
        if step.outcome == "invalid":  # once more: a stall of the machine is no limit
            first = step.reasons
            step = self._measure(level).model_copy(update={"attempts": 2, "earlier_reasons": first})
        self.steps.append(step)
        if self.on_step is not None:
            self.on_step(step)
        return StepResult(level, step.outcome, step)

    def _measure(self, level: int) -> Step:
        spec = step_spec(self.loaded.spec, self.scenario, level, self.timing)
        if self.on_start is not None:
            self.on_start(level)
        loaded = replace(self.loaded, spec=spec)
        verdict = api.run_spec(loaded, engine=self.engine, overrides=self.overrides, fail_fast=True)
        if verdict.status == "aborted":
            raise Interrupted("interrupted during the step at level " + str(level))
        if verdict.status == "error":
            if not self.steps:
                raise RunError(verdict.message or "the step could not be carried out")
            return Step(
                level=level,
                phase="ramp",
                outcome="dead",
                window_s=0.0,
                reasons=[f"the step could not be carried out: {verdict.message}"],
            )
        sends = spec.scenarios[self.scenario].sends()
        return step_of(verdict, level, "http" if sends else "ws")
