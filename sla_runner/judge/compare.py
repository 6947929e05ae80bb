"""A new run against a baseline (``sla-runner compare``, ``run --baseline``). Pure.

For every metric, endpoint and channel both verdicts measured (the keys of
``verdict.metrics`` with latencies: ``http``, ``http.<endpoint>``, ``ws.<channel>``,
``flow.<scenario>`` and any the verdict gains), and in a run of several scenarios for each
scenario's own figures too (``verdict.scenarios``; named ``p95(http) (scenario api)``),
these figures are compared:

``p50``, ``p95``, ``p99``
    compared only when each run has at least 10 samples beyond the percentile (p50 20
    samples, p95 200, p99 1,000); else listed as not enough samples to compare
    (``unresolved``), never a regression. Worse when the new run's 95% confidence interval
    of the percentile lies above the baseline's by more than the tolerance (a percentage of
    the baseline's figure) and by more than the noise floor (``1ms``: 0.8 → 1.1 ms is not a
    regression): a p95 of 400 samples moves by a few samples' worth on a rerun, and that
    is sampling error, not the service (:mod:`sla_runner.judge.resolution`).
``success_rate``
    worse when the new run's 95% (Wilson) interval of it lies below the baseline's by more
    than the tolerance of the baseline's failure share (at 10%, 99% → 98.85% is 15% more
    failures) and by more than :data:`SUCCESS_FLOOR_PCT` percentage points (100% → 99.95%,
    one failure in 2,000, is not a regression; nor is 2 failures in 25 against 3 in 25).
``throughput``
    the metric's rate: worse when lower by more than the tolerance (not for ``ws_connect``:
    more connects are reconnects, not more work).

A figure better by as much is ``improved``. The comparison is a ``regression`` when any
figure ``regressed``.

Verdicts belong together when they judged the same spec (its SHA-256) and the same plan:
the same stages and stage durations, the same segment, and the same ``--set`` overrides
outside ``target.`` (those say where the load goes, not what it is). Others are refused
(:class:`~sla_runner.errors.VerdictMismatchError`, exit 2) unless ``allow_spec_change``,
which compares them and lists the differences. A verdict with nothing measured (a run that
could not be carried out) has no figures to compare: refused as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from sla_runner import numbers
from sla_runner.comparison import (
    ComparedFigure,
    Comparison,
    Figure,
    FigureStatus,
    UnresolvedFigure,
    VerdictRef,
)
from sla_runner.errors import VerdictMismatchError
from sla_runner.judge.resolution import (
    CONFIDENCE_PCT,
    MIN_SAMPLES_BEYOND,
    interval_ms,
    resolves,
    samples_needed,
    success_interval_pct,
)
from sla_runner.verdict import MetricSummary, Verdict

SUCCESS_FLOOR_PCT = 0.1
NOT_WORK = frozenset({"ws_connect"})  # metrics whose rate is not the work done
_PERCENTILES: dict[Figure, float] = {"p50": 50, "p95": 95, "p99": 99}
_UNITS: dict[Figure, Literal["ms", "%", "/s"]] = {
    "p50": "ms",
    "p95": "ms",
    "p99": "ms",
    "success_rate": "%",
    "throughput": "/s",
}


@dataclass(frozen=True)
class PlanIdentity:
    """What makes two runs' loads the same: stages with durations, segment, load overrides."""

    stages: tuple[tuple[str, int], ...]  # (name, duration in ns)
    segment: str
    overrides: tuple[tuple[str, str], ...]  # --set KEY=VALUE outside target., as shown


def load_overrides(overrides: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """The overrides that change the load (all but those under ``target.``)."""
    return tuple(sorted((k, v) for k, v in overrides.items() if not k.startswith("target.")))


def plan_of(verdict: Verdict) -> PlanIdentity | None:
    """The plan a verdict's recording was made with; None without a recording."""
    rec = verdict.recording
    if rec is None:
        return None
    stages = tuple(
        (str(name), int(ns))
        for name, ns in zip(rec["stage_names"], rec["stage_durations_ns"], strict=True)
    )
    return PlanIdentity(stages, verdict.run.segment, load_overrides(verdict.run.overrides))


def plan_differences(baseline: PlanIdentity, new: PlanIdentity) -> list[str]:
    """How two plans differ, one sentence each; empty when they are the same."""

    def stages(p: PlanIdentity) -> str:
        return ", ".join(f"{name} {ns / 1e9:g}s" for name, ns in p.stages) or "none"

    def given(p: PlanIdentity) -> str:
        return " ".join(f"{k}={v}" for k, v in p.overrides) or "none"

    out = []
    if baseline.stages != new.stages:
        out.append(f"the stages differ: {stages(new)} against the baseline's {stages(baseline)}")
    if baseline.segment != new.segment:
        out.append(f"the segment differs: {new.segment} against the baseline's {baseline.segment}")
    if baseline.overrides != new.overrides:
        out.append(
            f"the load's --set overrides differ: {given(new)} against the baseline's "
            f"{given(baseline)}"
        )
    return out


def spec_differences(
    baseline: Verdict, new_sha256: str, new_name: str, new_sla_version: str
) -> list[str]:
    """The spec differs: each side named by its name, sla_version and hash, and the command
    that says what changed."""
    base = baseline.spec
    if base.sha256 == new_sha256:
        return []
    same = ", the same sla_version" if base.sla_version == new_sla_version else ""
    return [
        f"the spec differs (sha256): {new_name} {new_sla_version} {new_sha256[:12]} against "
        f"the baseline's {base.name} {base.sla_version} {base.sha256[:12]}{same} "
        "(sla-runner diff OLD NEW lists the changes between the two spec files)"
    ]


def require_figures(path: str, verdict: Verdict) -> None:
    """A verdict with nothing measured (a run that could not be carried out) cannot be
    compared: VerdictMismatchError."""
    if not any(m.count for m in verdict.metrics.values()):
        raise VerdictMismatchError(
            f"{path}: the verdict has no figures to compare (status {verdict.status}: "
            f"{verdict.message or 'nothing was measured'})"
        )


def refuse_unless_allowed(differences: Sequence[str], allow: bool) -> None:
    if differences and not allow:
        raise VerdictMismatchError(
            "the baseline is not of the same spec and plan: "
            + "; ".join(differences)
            + " (--allow-spec-change compares them all the same)"
        )


def compare_verdicts(
    baseline: Verdict,
    new: Verdict,
    *,
    baseline_path: str,
    new_path: str,
    tolerance_pct: float = 10.0,
    noise_floor_ms: float = 1.0,
    allow_spec_change: bool = False,
) -> Comparison:
    """Compare ``new`` with ``baseline``, figure by figure (see the module docstring)."""
    require_figures(baseline_path, baseline)
    require_figures(new_path, new)
    differences = spec_differences(baseline, new.spec.sha256, new.spec.name, new.spec.sla_version)
    base_plan, new_plan = plan_of(baseline), plan_of(new)
    if base_plan is not None and new_plan is not None:
        differences += plan_differences(base_plan, new_plan)
    refuse_unless_allowed(differences, allow_spec_change)
    rules = _Rules(tolerance_pct / 100, noise_floor_ms)
    out = _Out()
    notes = out.notes
    _compare_metrics(rules, baseline.metrics, new.metrics, None, out)
    for scenario in [
        *baseline.scenarios,
        *(s for s in new.scenarios if s not in baseline.scenarios),
    ]:
        if scenario not in baseline.scenarios or scenario not in new.scenarios:
            where = "the baseline" if scenario not in new.scenarios else "the new run"
            notes.append(f"scenario {scenario}: measured in {where} only, not compared")
            continue
        own = baseline.scenarios[scenario], new.scenarios[scenario]
        _compare_metrics(rules, *own, scenario, out)
    for label, verdict in (("the baseline", baseline), ("the new run", new)):
        if not verdict.validity.valid:
            notes.append(
                f"{label} is {verdict.status}: its figures may be the generator's, not the "
                f"service's ({'; '.join(verdict.validity.reasons)})"
            )
    regressed = any(f.status == "regressed" for f in out.figures)
    return Comparison(
        status="regression" if regressed else "ok",
        tolerance_pct=tolerance_pct,
        noise_floor_ms=noise_floor_ms,
        success_floor_pct=SUCCESS_FLOOR_PCT,
        baseline=_ref(baseline, baseline_path),
        new=_ref(new, new_path),
        spec_changes=differences,
        figures=out.figures,
        min_samples_beyond=MIN_SAMPLES_BEYOND,
        confidence_pct=CONFIDENCE_PCT,
        unresolved=out.unresolved,
        notes=notes,
    )


@dataclass
class _Out:
    figures: list[ComparedFigure] = field(default_factory=list)
    unresolved: list[UnresolvedFigure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _compare_metrics(
    rules: _Rules,
    baseline: dict[str, MetricSummary],
    new: dict[str, MetricSummary],
    scenario: str | None,
    out: _Out,
) -> None:
    """Every metric both measured (of the whole run, or of one scenario), into
    ``out.figures`` (a percentile too few samples resolve, into ``out.unresolved``); one
    measured on one side only, into ``out.notes``."""
    where_of = f" (scenario {scenario})" if scenario else ""
    for name in [*baseline, *(k for k in new if k not in baseline)]:
        old_m, new_m = baseline.get(name), new.get(name)
        if not _compared(old_m) and not _compared(new_m):
            continue  # a gauge, users: not compared
        if old_m is None or new_m is None or not _compared(old_m) or not _compared(new_m):
            where = "the baseline" if new_m is None or not _compared(new_m) else "the new run"
            out.notes.append(f"{name}{where_of}: measured in {where} only, not compared")
            continue
        counts = old_m.count, new_m.count
        for fig, a, b in _pairs(name, old_m, new_m):
            p = _PERCENTILES.get(fig)
            if fig == "success_rate":
                spans = _success_span(old_m), _success_span(new_m)
                out.figures.append(rules.figure(name, fig, a, b, scenario, spans, counts))
            elif p is None:
                out.figures.append(rules.figure(name, fig, a, b, scenario))
            elif not (resolves(old_m.count, p) and resolves(new_m.count, p)):
                out.unresolved.append(_unresolved(name, fig, (a, b), (old_m, new_m), scenario))
            else:
                spans = interval_ms(old_m, p, a), interval_ms(new_m, p, b)
                out.figures.append(rules.figure(name, fig, a, b, scenario, spans, counts))


def _compared(m: MetricSummary | None) -> bool:
    return m is not None and m.latency_ms is not None and m.count > 0


def _success_span(m: MetricSummary) -> tuple[float, float]:
    return success_interval_pct(m.count, sum(m.errors.values()))


def _success(m: MetricSummary) -> float:
    return 100 * (m.count - sum(m.errors.values())) / m.count


def _pairs(name: str, old: MetricSummary, new: MetricSummary) -> list[tuple[Figure, float, float]]:
    assert old.latency_ms is not None  # _compared
    assert new.latency_ms is not None
    pairs: list[tuple[Figure, float, float]] = [
        ("p50", old.latency_ms.p50, new.latency_ms.p50),
        ("p95", old.latency_ms.p95, new.latency_ms.p95),
        ("p99", old.latency_ms.p99, new.latency_ms.p99),
        ("success_rate", _success(old), _success(new)),
    ]
    metric = name.split(".", 1)[0]
    if old.rate is not None and new.rate is not None and metric not in NOT_WORK:
        pairs.append(("throughput", old.rate, new.rate))
    return pairs


def _name(metric: str, figure: Figure, scenario: str | None) -> str:
    name = f"rate({metric})" if figure == "throughput" else f"{figure}({metric})"
    return name + (f" (scenario {scenario})" if scenario else "")  # as its JUnit case would be


def _unresolved(
    metric: str,
    figure: Figure,
    values: tuple[float, float],
    summaries: tuple[MetricSummary, MetricSummary],
    scenario: str | None,
) -> UnresolvedFigure:
    name, needed = _name(metric, figure, scenario), samples_needed(_PERCENTILES[figure])
    (old, new), (old_n, new_n) = values, (summaries[0].count, summaries[1].count)
    return UnresolvedFigure(
        name=name,
        metric=metric,
        scenario=scenario,
        figure=figure,
        unit="ms",
        baseline=numbers.stored(old, "ms"),
        new=numbers.stored(new, "ms"),
        baseline_count=old_n,
        new_count=new_n,
        needed=needed,
        message=(
            f"{name}: {numbers.value(old, 'ms')} → {numbers.value(new, 'ms')}: not enough "
            f"samples to compare ({figure} needs {needed}, {MIN_SAMPLES_BEYOND} beyond it; "
            f"the baseline has {old_n}, the new run {new_n})"
        ),
    )


Span = tuple[float, float]


@dataclass(frozen=True)
class _Rules:
    tolerance: float  # a fraction
    noise_floor_ms: float

    def figure(
        self,
        metric: str,
        figure: Figure,
        old: float,
        new: float,
        scenario: str | None = None,
        spans: tuple[Span, Span] | None = None,
        counts: tuple[int, int] | None = None,
    ) -> ComparedFigure:
        """``spans``: a percentile's confidence intervals (baseline's, new run's), whose
        distance apart is how much worse or better it got."""
        unit = _UNITS[figure]
        (old_lo, old_hi), (new_lo, new_hi) = spans or ((old, old), (new, new))
        allowed = self._allowed(figure, old)
        if figure == "throughput":
            worse = old - new
            better = -worse
        elif figure == "success_rate":  # lower is worse
            worse, better = old_lo - new_hi, new_lo - old_hi
        else:
            worse, better = new_lo - old_hi, old_lo - new_hi
        status: FigureStatus = "held"
        if worse > allowed:
            status = "regressed"
        elif better > allowed:
            status = "improved"
        name = _name(metric, figure, scenario)
        change = new - old
        # a change of a percentage is read in points, not as a percentage of it
        change_pct = 100 * change / old if old and unit != "%" else None
        shown = f"{'+' if change >= 0 else '-'}{numbers.value(abs(change), unit)}"
        if change_pct is not None:
            shown += f", {change_pct:+.1f}%"
        elif unit == "%":
            shown = shown.replace("%", " points")
        verdict = {
            "regressed": f"worse by more than {numbers.value(allowed, unit)}",
            "improved": f"better by more than {numbers.value(allowed, unit)}",
            "held": f"within {numbers.value(allowed, unit)}",
        }[status]
        if spans is not None and (old_lo, old_hi, new_lo, new_hi) != (old, old, new, new):
            verdict += (
                f" (its 95% interval {_span(new_lo, new_hi, unit)} against the baseline's "
                f"{_span(old_lo, old_hi, unit)})"
            )
        return ComparedFigure(
            name=name,
            metric=metric,
            scenario=scenario,
            figure=figure,
            unit=unit,
            baseline=numbers.stored(old, unit),
            new=numbers.stored(new, unit),
            change=numbers.stored(change, unit),
            change_pct=None if change_pct is None else numbers.stored(change_pct, "%"),
            allowed=numbers.stored(allowed, unit),
            status=status,
            message=(
                f"{name}: {numbers.value(old, unit)} → {numbers.value(new, unit)} "
                f"({shown}): {verdict}"
            ),
            baseline_count=None if counts is None else counts[0],
            new_count=None if counts is None else counts[1],
            baseline_interval=None if spans is None else _stored_span(old_lo, old_hi, unit),
            new_interval=None if spans is None else _stored_span(new_lo, new_hi, unit),
        )

    def _allowed(self, figure: Figure, old: float) -> float:
        if figure == "success_rate":
            return max(self.tolerance * (100 - old), SUCCESS_FLOOR_PCT)
        if figure == "throughput":
            return self.tolerance * old
        return max(self.tolerance * old, self.noise_floor_ms)


def _span(lo: float, hi: float, unit: str) -> str:
    return f"{numbers.number(numbers.stored(lo, unit))} … {numbers.value(hi, unit)}"


def _stored_span(lo: float, hi: float, unit: str) -> Span:
    return numbers.stored(lo, unit), numbers.stored(hi, unit)


def _ref(verdict: Verdict, path: str) -> VerdictRef:
    return VerdictRef(
        path=path,
        spec=verdict.spec.name,
        sla_version=verdict.spec.sla_version,
        sha256=verdict.spec.sha256,
        status=verdict.status,
        started_at=verdict.run.started_at,
        segment=verdict.run.segment,
    )


__all__ = [
    "SUCCESS_FLOOR_PCT",
    "PlanIdentity",
    "compare_verdicts",
    "load_overrides",
    "plan_differences",
    "plan_of",
    "refuse_unless_allowed",
    "require_figures",
    "samples_needed",
    "spec_differences",
]
