"""The judge: Recording + thresholds → Verdict. Pure: no clock, no I/O.

Every threshold gets its observed value, margin, sample count and a status:

``pass`` / ``fail``
    the statistic held / did not hold its limit (severity ``fail``).
``warn``
    a ``severity: warn`` threshold that missed: reported, never fails the run.
``no_data``
    nothing to judge (an endpoint never called, a process never sampled): with severity
    ``fail`` this fails the run — a threshold never passes vacuously.
``skipped``
    not judged, with the reason in its message: the run could not be carried out; a
    segment's share of a load-size threshold; ``during`` a stage an aborted run never
    reached; or a window an aborted run cut short, where the part measured cannot decide
    it — see below.

An aborted run (Ctrl-C, SIGTERM, ``--fail-fast``) is judged on what it measured, but a
window it cut short is not a failure of the service. Latency, success and error rates and
the service's memory and CPU are judged on the part that ran. The load's size (``users``,
``count``, ``rate``) needs the whole window: it is ``skipped``, unless the part measured
already decides it (a count or a maximum can only grow with more of the window, a minimum
only shrink: ``count(http) < 1000`` observed at 1,500 has failed, ``users >= 10`` observed
at 10 has held). A threshold with no samples in a cut-short window is ``skipped`` too.

The verdict's status, and the exit code it maps to
(:data:`sla_runner.verdict.EXIT_CODES`): ``pass`` 0, ``fail`` 1, ``error`` 3 (could
not run), ``aborted`` 3 (interrupted; all measured data kept and judged), ``invalid`` 4
(the generator could not deliver the load, or a merge lacks segments; see
:mod:`sla_runner.judge.validity`, which also says which failures still stand as ``fail``
in an invalid run). An aborted run is reported as aborted even when its figures are also
invalid; the validity reasons are kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sla_runner import numbers
from sla_runner.judge.findings import find
from sla_runner.judge.notes import unjudged_failures
from sla_runner.judge.summary import metrics_summary, scenario_summaries, timeline_models
from sla_runner.judge.thresholds import as_written, evaluate, result
from sla_runner.judge.validity import judge_validity, never_started, timers_kept, weigh
from sla_runner.metrics.recording import Recording
from sla_runner.plan import build_plan
from sla_runner.redact import redact, redact_data, redact_url
from sla_runner.spec.convert import AnySpec, as_format2, format_version
from sla_runner.spec.format2 import Spec
from sla_runner.spec.parts import ThresholdRuleV2 as ThresholdRule
from sla_runner.spec.parts import reads_seconds
from sla_runner.timeunits import NS_PER_S
from sla_runner.verdict import (
    CiRun,
    GitState,
    LoadModel,
    RunFacts,
    SpecIdentity,
    ThresholdResult,
    Validity,
    Verdict,
    VerdictStatus,
)

__all__ = [
    "Provenance",
    "RunInfo",
    "error_verdict",
    "judge",
    "judge_rules",
    "load_models",
    "spec_identity",
]


@dataclass(frozen=True)
class Provenance:
    """Who made a verdict, read before the run (:mod:`sla_runner.provenance`)."""

    ci: CiRun | None = None  # the CI job
    spec_git: GitState | None = None  # the spec file's commit
    runner_git: GitState | None = None  # sla-runner's own commit


@dataclass(frozen=True)
class RunInfo:
    """Facts about a run that the recording does not hold."""

    spec_path: str
    spec_sha256: str
    runner_version: str
    host: str
    base_url: str
    started_at: float | None = None  # Unix time; the recording's when None
    finished_at: float | None = None
    segment: str = "1/1"
    engine: str | None = None  # the HTTP/1.1 transport: raw, aiohttp or httpx
    warnings: tuple[str, ...] = ()  # e.g. "TLS verification is off"
    error: str | None = None  # set when the run could not be carried out
    overrides: tuple[tuple[str, str], ...] = ()  # --set KEY=VALUE, as the verdict shows them
    format_version: int | None = None  # the spec file's; by default the model's
    provenance: Provenance = Provenance()


def spec_identity(spec: AnySpec, run: RunInfo) -> SpecIdentity:
    version = run.format_version if run.format_version is not None else format_version(spec)
    return SpecIdentity(
        name=spec.name,
        sla_version=spec.sla_version,
        path=run.spec_path,
        sha256=run.spec_sha256,
        owner=spec.owner,
        labels=dict(spec.labels),
        format_version=version,
        git=run.provenance.spec_git,
    )


def judge(
    spec: AnySpec, recording: Recording, run: RunInfo, *, secrets: frozenset[str] = frozenset()
) -> Verdict:
    """Judge one run of ``spec`` (either model). With ``run.error`` set, the verdict is an
    ``error`` one."""
    if run.error is not None:
        return error_verdict(spec, run, recording=recording, secrets=secrets)
    rules = as_format2(spec).thresholds
    return judge_rules(
        spec_identity(spec, run), rules, recording, run, secrets=secrets, models=load_models(spec)
    )


def load_models(spec: AnySpec) -> dict[str, LoadModel]:
    """Each scenario of ``spec`` → its load model (a version-1 spec's one is ``default``)."""
    return {name: s.model for name, s in as_format2(spec).scenarios.items()}


def judge_rules(
    identity: SpecIdentity,
    rules: Sequence[ThresholdRule],
    recording: Recording,
    run: RunInfo,
    *,
    secrets: frozenset[str] = frozenset(),
    invalid_parts: Sequence[str] = (),
    incomplete: Sequence[str] = (),
    part_lags_ms: Sequence[float | None] = (),
    models: Mapping[str, LoadModel] | None = None,
) -> Verdict:
    """Judge ``rules`` on ``recording``; ``merge`` calls this with the rules a verdict stored,
    the reasons any of the merged parts was invalid (``invalid_parts``), why the merge does
    not cover the whole load (``incomplete``) and the parts' loop lags (``part_lags_ms``).
    ``models``: each scenario's load model, as the verdict records it (none: not known)."""
    validity = judge_validity(recording, invalid_parts, incomplete=incomplete)
    results = weigh(
        [evaluate(rule, recording) for rule in rules],
        rules,
        recording,
        validity,
        timers=timers_kept(recording, part_lags_ms),
        complete=not incomplete,
    )
    status = _status(recording, validity, results)
    message = _message(status, recording, validity, results)
    findings: list[str] = []
    if status in ("fail", "invalid") or (status == "aborted" and _missed(results)):
        findings = find(recording, results)
    notes = [*recording.notes, *unjudged_failures(recording, rules)]
    return Verdict(
        status=status,
        message=message and redact(message, secrets),
        spec=identity,
        run=_run_facts(run, recording, secrets),
        thresholds=results,
        findings=[redact(f, secrets) for f in findings],
        validity=validity,
        metrics=metrics_summary(recording),
        scenarios=scenario_summaries(recording),
        scenario_models=dict(models or {}),
        stages=list(recording.stage_names),
        timeline=timeline_models(recording),
        notes=[redact(n, secrets) for n in notes],
        spec_thresholds=[as_written(rule) for rule in rules],
        recording=redact_data(
            recording.to_dict(seconds=reads_seconds(rules, recording.stage_warmups_ns)), secrets
        ),
    )


def error_verdict(
    spec: AnySpec,
    run: RunInfo,
    *,
    recording: Recording | None = None,
    secrets: frozenset[str] = frozenset(),
) -> Verdict:
    """A verdict for a run that could not be carried out: status ``error``, every threshold
    ``skipped`` with the reason, the validity saying that the run never started, and the
    time it was attempted (``run.started_at``)."""
    identity = spec_identity(spec, run)
    rules = as_format2(spec).thresholds
    message = redact(run.error or "the run could not be carried out", secrets)
    results = [
        result(
            rule,
            "skipped",
            f"{rule.expr.text}: skipped: the run could not be carried out: {message}",
            trusted=True,
        )
        for rule in rules
    ]
    return Verdict(
        status="error",
        message=message,
        spec=identity,
        run=_run_facts(run, recording, secrets),
        thresholds=results,
        validity=never_started(message)
        if recording is None
        else judge_validity(recording, [f"the run could not be carried out: {message}"]),
        metrics=metrics_summary(recording) if recording else {},
        scenario_models=load_models(spec),
        stages=_stage_names(as_format2(spec), recording),
        timeline=timeline_models(recording) if recording else [],
        notes=[redact(n, secrets) for n in recording.notes] if recording else [],
        spec_thresholds=[as_written(rule) for rule in rules],
        recording=redact_data(
            recording.to_dict(seconds=reads_seconds(rules, recording.stage_warmups_ns)), secrets
        )
        if recording
        else None,
    )


def _stage_names(spec: Spec, recording: Recording | None) -> list[str]:
    if recording is not None:
        return list(recording.stage_names)
    return list(build_plan(spec).stage_names)


def _missed(results: list[ThresholdResult]) -> bool:
    return any(r.severity == "fail" and r.passed is False for r in results)


def _status(
    recording: Recording, validity: Validity, results: list[ThresholdResult]
) -> VerdictStatus:
    if recording.aborted:
        return "aborted"
    if not validity.valid:  # only a failure that stands is judged (see sla_runner.judge.validity)
        return "fail" if _missed([r for r in results if r.trusted]) else "invalid"
    return "fail" if _missed(results) else "pass"


def _message(
    status: VerdictStatus, recording: Recording, validity: Validity, results: list[ThresholdResult]
) -> str | None:
    """Why the status is what the thresholds alone do not say (None: they say it)."""
    if status == "aborted":
        ran, planned = recording.window_ns(None), sum(recording.stage_durations_ns)
        return (
            f"the run was aborted after {numbers.number(ran / NS_PER_S)}s of the "
            f"{numbers.number(planned / NS_PER_S)}s run; judged on what was measured"
        )
    if status == "invalid":
        return "the run is invalid: " + "; ".join(validity.reasons)
    if status == "fail" and not validity.valid:
        return _standing_message(results)
    return None


def _standing_message(results: list[ThresholdResult]) -> str:
    standing = [r.expr for r in results if r.trusted and r.severity == "fail" and r.passed is False]
    return (
        "the run is invalid (see validity.reasons), but "
        + ", ".join(standing)
        + " failed on the service's own answers, which no generator causes"
    )


def _redacted(ci: CiRun | None, secrets: frozenset[str]) -> CiRun | None:
    """The CI job's identifiers, any that holds a secret masked."""
    if ci is None:
        return None
    fields = ci.model_dump(exclude={"system"})
    return ci.model_copy(
        update={k: redact(v, secrets) for k, v in fields.items() if isinstance(v, str)}
    )


def _iso(t: float | None) -> str | None:
    if not t:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _run_facts(run: RunInfo, recording: Recording | None, secrets: frozenset[str]) -> RunFacts:
    started = run.started_at if run.started_at is not None else None
    finished = run.finished_at if run.finished_at is not None else None
    if recording is not None:
        started = started or recording.started_at or None
        finished = finished or recording.finished_at or None
    if recording is not None and recording.elapsed_ns > 0:
        duration_s = recording.elapsed_ns / NS_PER_S
    else:  # a run that never started: the time its attempt took
        duration_s = max((finished or 0.0) - (started or 0.0), 0.0) if started else 0.0
    return RunFacts(
        started_at=_iso(started),
        finished_at=_iso(finished),
        duration_s=numbers.stored(duration_s, "s"),
        runner_version=run.runner_version,
        runner_git=run.provenance.runner_git,
        ci=_redacted(run.provenance.ci, secrets),
        host=redact(run.host, secrets),
        base_url=redact(redact_url(run.base_url), secrets),
        segment=recording.segment if recording is not None else run.segment,
        engine=run.engine,
        warnings=[redact(w, secrets) for w in run.warnings],
        overrides={key: redact(value, secrets) for key, value in run.overrides},
    )
