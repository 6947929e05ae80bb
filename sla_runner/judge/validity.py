"""Run validity: could the generator have changed the verdict? Judged apart from the SLA.

A service must not be failed (or passed) on figures the generator corrupted. A run is
``invalid`` when any of these bounds is crossed — every bound sla-runner applies is here:

``MAX_DROPPED_LATE_PCT``
    Open model: arrivals dropped (too many in flight) plus arrivals started late, as a
    percentage of the arrivals planned. Above 1% the offered load was not the planned one.
``GENERATOR_CPU_SATURATED_PCT`` at ``GENERATOR_CPU_PERCENTILE``
    The generator's own CPU, in percent of one core (its event loop runs on one). When the
    90th percentile of its samples reaches 95%, the loop was saturated for a tenth of the
    run or more, and latencies include time spent waiting for the generator.
``MAX_LOOP_LAG_P99_MS``
    Event-loop lag: how late the loop woke up for a timer. A p99 above 50 ms means the
    generator itself added tens of milliseconds to the measurements.

A merge is invalid, too, when any of its parts was (one host's trouble is not diluted by
the healthy ones), and when it lacks segments (``merge --allow-partial`` aside): its
figures cover only part of the load.

What an invalid run still judges
--------------------------------
Validity is about whether the generator could have changed the verdict. A failure that no
generator can cause stands: the verdict is ``fail`` (exit 1), the validity reasons are kept
(``validity.valid`` false, and a warning in the console and JUnit). Every other result of
an invalid run is marked ``trusted: false`` (JUnit ``<error type="InvalidRun">``, console
``INVALID``), and when no failure stands the verdict is ``invalid`` (exit 4).

Only a **failed ``success_rate`` or ``error_rate`` threshold** can stand, and only when it
still fails with every failed operation of a kind a generator may cause counted as a
success, that is on the service's own answers alone. These outcome kinds are the
service's answers (:data:`SERVICE_KINDS`), whatever the generator's pace:

- ``status_<code>``: an unexpected status (5xx, 4xx, ...);
- ``body_mismatch``: a body without ``body_contains`` (or the JSON fields expected);
  ``json_mismatch``: a JSON body without the fields ``expect.json`` names (format 2);
  ``extract_failed``: a response without the value a step extracts (format 2);
- ``redirect_blocked``: a redirect to a host the spec does not allow;
- ``protocol_error``: a response that is not valid HTTP, or a WebSocket protocol breach;
- ``tls_error``: a handshake the service's certificate or TLS version failed;
- ``ws_refused``: a WebSocket upgrade refused; ``ws_bad_reply``: a reply frame we must
  refuse (invalid UTF-8, too big);
- a flow pass that failed (``<step>:<kind>``) by its step's kind;
- ``connect_error`` (refused, unreachable) and ``reset`` (the connection cut) — while the
  generator's event loop kept its timers (loop-lag p99 within its bound, in every merged
  part). The transports also count a connect that did not complete within
  ``target.connect_timeout`` as a connect error, and a keep-alive connection the server
  closed as idle ends in a reset: a loop that stalls can cause both, so a run invalid for
  its loop lag does not count them.

Not the service's answers: ``timeout`` (measured on the generator's clock, which a
saturated loop reads late), ``ws_closed`` (the server may drop a connection whose pings the
generator answered late), ``error`` (unclassified). No other statistic stands: latency
(``pNN``, ``min``, ``max``, ``mean``) includes the generator's own delays; ``count``,
``rate`` and ``users`` shrink when the generator cannot keep up; ``process.*`` figures
are those of a load other than the planned one. A pass never stands: a service that held
its limits under a load the generator failed to deliver says nothing of the planned load.
Nothing stands in a merge that lacks segments: the missing shares' answers could lift a
success rate over its limit.
"""

from __future__ import annotations

from collections.abc import Sequence

from sla_runner import numbers
from sla_runner.metrics.histogram import value_at_percentile
from sla_runner.metrics.recording import Recording
from sla_runner.spec.parts import ThresholdRuleV2 as ThresholdRule
from sla_runner.spec.thresholds import FLOW_METRIC, LATENCY_METRICS
from sla_runner.verdict import ThresholdResult, Validity

MAX_DROPPED_LATE_PCT = 1.0
GENERATOR_CPU_SATURATED_PCT = 95.0
GENERATOR_CPU_PERCENTILE = 90.0
MAX_LOOP_LAG_P99_MS = 50.0

BOUNDS: dict[str, float] = {
    "max_dropped_late_pct": MAX_DROPPED_LATE_PCT,
    "generator_cpu_saturated_pct": GENERATOR_CPU_SATURATED_PCT,
    "generator_cpu_percentile": GENERATOR_CPU_PERCENTILE,
    "max_loop_lag_p99_ms": MAX_LOOP_LAG_P99_MS,
}

SERVICE_KINDS = frozenset(
    {
        "body_mismatch",
        "json_mismatch",
        "extract_failed",
        "redirect_blocked",
        "protocol_error",
        "tls_error",
        "ws_refused",
        "ws_bad_reply",
    }
)
"""Outcome kinds that are the service's answer whatever the generator did (and ``status_*``)."""
CONNECTION_KINDS = frozenset({"connect_error", "reset"})
"""The service's answer only while the generator's event loop kept its timers."""
RATE_STATS = ("success_rate", "error_rate")


def judge_validity(
    recording: Recording, parts: Sequence[str] = (), *, incomplete: Sequence[str] = ()
) -> Validity:
    """The run-quality facts of a recording, and the reasons it cannot be trusted, if any.

    ``parts``: the reasons a merged recording's parts were invalid. Pooling would dilute one
    host's trouble among the healthy ones, so a merge is invalid when any part was.
    ``incomplete``: why a merge's figures do not cover the whole load (missing segments).
    """
    gen = recording.generator
    reasons: list[str] = [*incomplete, *parts]
    missed = gen.dropped + gen.late
    if gen.planned > 0 and 100 * missed / gen.planned > MAX_DROPPED_LATE_PCT:
        reasons.append(
            f"the generator did not deliver the planned arrivals: {numbers.count(gen.dropped)} "
            f"dropped and {numbers.count(gen.late)} late of {numbers.count(gen.planned)} planned "
            f"({numbers.number(100 * missed / gen.planned)}%, bound {MAX_DROPPED_LATE_PCT:g}%)"
        )
    cpu_p90 = cpu_max = None
    if gen.cpu_pct.get_total_count():
        cpu_p90 = value_at_percentile(gen.cpu_pct, GENERATOR_CPU_PERCENTILE) / 100
        cpu_max = gen.cpu_pct.get_max_value() / 100
        if cpu_p90 >= GENERATOR_CPU_SATURATED_PCT:
            reasons.append(
                f"the generator's CPU was saturated: p{GENERATOR_CPU_PERCENTILE:g} of its "
                f"{numbers.count(gen.cpu_pct.get_total_count())} samples was "
                f"{numbers.number(cpu_p90)}% of one core (bound {GENERATOR_CPU_SATURATED_PCT:g}%)"
            )
    lag_p99 = loop_lag_p99_ms(recording)
    if lag_p99 is not None and lag_p99 > MAX_LOOP_LAG_P99_MS:
        reasons.append(
            f"the generator's event loop lagged: p99 {numbers.number(lag_p99)} ms over "
            f"{numbers.count(gen.loop_lag_us.get_total_count())} samples "
            f"(bound {MAX_LOOP_LAG_P99_MS:g} ms)"
        )
    return Validity(
        valid=not reasons,
        reasons=reasons,
        planned=gen.planned or None,
        dropped=gen.dropped,
        late=gen.late,
        backoffs=gen.backoffs,
        generator_cpu_p90=None if cpu_p90 is None else round(cpu_p90, 2),
        generator_cpu_max=None if cpu_max is None else round(cpu_max, 2),
        loop_lag_p99_ms=None if lag_p99 is None else round(lag_p99, 3),
        bounds=dict(BOUNDS),
    )


def never_started(message: str) -> Validity:
    """The validity of a run that could not be carried out: no load, nothing to judge."""
    return Validity(valid=False, reasons=[f"the run never started: no load was sent ({message})"])


def loop_lag_p99_ms(recording: Recording) -> float | None:
    lag = recording.generator.loop_lag_us
    return value_at_percentile(lag, 99) / 1000 if lag.get_total_count() else None


def timers_kept(recording: Recording, part_lags_ms: Sequence[float | None] = ()) -> bool:
    """Whether the generator's event loop (of every merged part) kept its timers."""
    lags = [loop_lag_p99_ms(recording), *part_lags_ms]
    return all(lag is None or lag <= MAX_LOOP_LAG_P99_MS for lag in lags)


def service_answered(kind: str, *, timers: bool) -> bool:
    """Whether a failed operation of outcome ``kind`` is the service's answer, whatever the
    generator's pace (``timers``: the loop kept its timers). A flow pass's ``<step>:<kind>``
    is judged by its kind."""
    kind = kind.rpartition(":")[2]
    if kind.startswith("status_") or kind in SERVICE_KINDS:
        return True
    return timers and kind in CONNECTION_KINDS


def failure_stands(rule: ThresholdRule, recording: Recording, *, timers: bool) -> bool:
    """Whether a failed success_rate/error_rate threshold still fails with every failed
    operation a generator may cause counted as a success."""
    t = rule.expr
    if t.stat not in RATE_STATS or t.metric not in (*LATENCY_METRICS, FLOW_METRIC):
        return False
    if rule.during is not None and rule.during not in recording.stage_names:
        return False
    stage = None if rule.during is None else recording.stage_index(rule.during)
    series = recording.select(t.metric, t.scope, stage, rule.scenario)
    count = sum(s.count for s in series)
    failed = sum(
        n
        for s in series
        for kind, n in s.outcomes.items()
        if kind != "ok" and service_answered(kind, timers=timers)
    )
    if count == 0:
        return False
    best = 100 * (count - failed) / count if t.stat == "success_rate" else 100 * failed / count
    return not t.holds(best)


def weigh(
    results: Sequence[ThresholdResult],
    rules: Sequence[ThresholdRule],
    recording: Recording,
    validity: Validity,
    *,
    timers: bool,
    complete: bool = True,
) -> list[ThresholdResult]:
    """Mark each result ``trusted``: every one in a valid run; in an invalid one, a skipped
    one (it claims nothing) and a failure that stands — none when the figures are not
    ``complete`` (a merge that lacks segments)."""
    if validity.valid:
        return [r.model_copy(update={"trusted": True}) for r in results]
    return [
        r.model_copy(
            update={
                "trusted": r.status == "skipped"
                or (
                    complete
                    and r.passed is False
                    and r.observed is not None
                    and failure_stands(rule, recording, timers=timers)
                )
            }
        )
        for r, rule in zip(results, rules, strict=True)
    ]
