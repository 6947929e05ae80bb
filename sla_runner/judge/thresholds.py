"""One threshold on one recording: its observed value, margin, sample count and status.

The statuses (``pass``, ``fail``, ``warn``, ``no_data``, ``skipped``) and when each is
given are set out in :mod:`sla_runner.judge.verdicts`; which window a threshold is judged
on, and when an aborted run's cannot decide it, in :mod:`sla_runner.judge.windows`.
"""

from __future__ import annotations

import re
from dataclasses import replace

from sla_runner import numbers
from sla_runner.judge.windowed import Options, Windowed, judge_windows, window_message
from sla_runner.judge.windows import ThresholdRule, cut_short, not_reached, scope_of
from sla_runner.metrics.recording import Recording
from sla_runner.metrics.stats import observe
from sla_runner.spec.parts import ThresholdRuleV2, window_stat_problem
from sla_runner.spec.thresholds import Threshold
from sla_runner.spec.units import Duration
from sla_runner.timeunits import NS_PER_S
from sla_runner.verdict import ThresholdResult, ThresholdSpec, ThresholdStatus, WindowResult

__all__ = ["as_written", "evaluate", "result", "windowed"]


def evaluate(rule: ThresholdRule, recording: Recording) -> ThresholdResult:
    """One threshold on one recording."""
    t = rule.expr
    label = re.split(r"[<>]", t.text, maxsplit=1)[0].strip()
    stage: int | None = None
    reason: str | None = None
    if rule.during is not None:
        if rule.during in recording.stage_names:
            stage = recording.stage_index(rule.during)
        else:
            reason = f"the recording has no stage named {rule.during!r}"
    scenario = scope_of(rule)
    if scenario is not None and reason is None and scenario not in recording.scenarios:
        reason = f"the recording has no scenario named {scenario!r}"
    window_ns = recording.window_ns(stage, scenario) if reason is None else 0
    window_s = numbers.stored(window_ns / NS_PER_S, "s")
    observed: float | None = None
    samples = 0
    skip = not_reached(rule, recording, stage) if reason is None else None
    over = windowed(rule)
    warm = stage_warmups(rule, recording, stage, scenario) if reason is None else []
    judged: Windowed | None = None
    if skip is None and reason is None and (over is not None or warm):
        options = Options.of(over, tuple((a, b) for _, a, b in warm))
        judged = judge_windows(t, options, recording, stage, scenario)
        observed, samples, reason = judged.observed, judged.samples, judged.reason
    elif skip is None and reason is None:
        obs = observe(recording, t, stage, scenario)
        observed, samples, reason = obs.value, obs.samples, obs.reason
        skip = cut_short(rule, recording, stage, observed)
    status: ThresholdStatus
    margin = margin_pct = None
    if skip is not None:
        status, message, observed, samples = "skipped", f"{t.text}: skipped: {skip}", None, 0
    elif observed is None:
        status, message = "no_data", f"{label}: {reason}"
    else:
        raw = t.limit - observed if t.op in ("<", "<=") else observed - t.limit
        observed, digits = numbers.stored_against(observed, t.unit, t.holds)
        margin = round(raw, digits)
        margin_pct = round(100 * raw / t.limit, numbers.DIGITS["%"]) if t.limit else None
        held = t.holds(observed)
        status = "pass" if held else ("fail" if rule.severity == "fail" else "warn")
        message = (
            f"{label} = {numbers.observed(observed, t.limit, t.unit)}, limit {t.op} "
            f"{numbers.value(t.limit, t.unit)} (n={numbers.count(samples)})"
        )
        if judged is not None and over is not None:
            message = window_message(over, judged, label, observed)
            if held and judged.empty is not None:
                status = "no_data"
    if scenario is not None and status != "skipped":
        message += f" in scenario {scenario}"
    if rule.during is not None and status != "skipped":
        message += f" during {rule.during}"
    if warm and status != "skipped":
        message += "; left out: " + ", ".join(
            f"the first {numbers.number((b - a) / NS_PER_S)}s of stage "
            f"{recording.stage_names[i]!r} (its warmup)"
            for i, a, b in warm
        )
    return result(
        rule,
        status,
        message,
        observed=observed,
        margin=margin,
        margin_pct=margin_pct,
        samples=samples,
        window_s=window_s,
        windows=judged.windows if judged is not None and _listed(over) else [],
    )


def result(
    rule: ThresholdRule,
    status: ThresholdStatus,
    message: str,
    *,
    observed: float | None = None,
    margin: float | None = None,
    margin_pct: float | None = None,
    samples: int = 0,
    window_s: float = 0.0,
    trusted: bool | None = None,
    windows: list[WindowResult] | None = None,
) -> ThresholdResult:
    """The result of ``rule`` with these figures (``passed`` follows from ``status``);
    ``trusted`` is settled once the run's validity is known (:func:`~.validity.weigh`)."""
    t = rule.expr
    return ThresholdResult(
        expr=t.text,
        metric=t.metric,
        scope=t.scope,
        stat=t.stat,
        op=t.op,
        limit=numbers.stored_limit(t.limit, t.unit, lambda r: _side(t, observed, r)),
        unit=t.unit,
        observed=observed,
        margin=margin,
        margin_pct=margin_pct,
        samples=samples,
        scenario=scope_of(rule),
        during=rule.during,
        window_s=window_s,
        **_options(rule),
        windows=windows or [],
        severity=rule.severity,
        passed=None if status == "skipped" else status == "pass",
        status=status,
        message=message,
        description=rule.description,
        trusted=trusted,
    )


def as_written(rule: ThresholdRule) -> ThresholdSpec:
    """The threshold as the spec wrote it, as a verdict records it for re-judging."""
    return ThresholdSpec(
        expr=rule.expr.text,
        scenario=scope_of(rule),
        during=rule.during,
        **_options(rule),
        severity=rule.severity,
        description=rule.description,
    )


def stage_warmups(
    rule: ThresholdRule, recording: Recording, stage: int | None, scenario: str | None
) -> list[tuple[int, int, int]]:
    """The stage warmups a threshold over requests leaves out of its span (a threshold of
    users, the service's resources or a scraped series judges them: they are not requests)."""
    t = rule.expr
    if window_stat_problem(t) is not None and t.stat != "count":
        return []
    return recording.warmups(stage, scenario)


def _listed(over: ThresholdRuleV2 | None) -> bool:
    """Whether a result lists its windows: a window or for threshold's."""
    return over is not None and (over.window is not None or over.for_ is not None)


def windowed(rule: ThresholdRule) -> ThresholdRuleV2 | None:
    """The rule, when it is judged over windows (window, for or warmup)."""
    return rule if isinstance(rule, ThresholdRuleV2) and rule.windowed else None


def _options(rule: ThresholdRule) -> dict[str, str | None]:
    """Its window, for and warmup as written (``30s``), for the verdict."""
    over = windowed(rule)
    if over is None:
        return {}
    return {
        "window": _text(over.window),
        "for_": _text(over.for_),
        "warmup": _text(over.warmup),
    }


def _text(value: Duration | None) -> str | None:
    return None if value is None else str(value)


def _side(t: Threshold, observed: float | None, limit: float) -> bool:
    """Whether ``observed`` stands on the same side of ``limit`` as of the written one."""
    if observed is None:
        return True
    return replace(t, limit=limit).holds(observed) == t.holds(observed)
