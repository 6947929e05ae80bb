"""Run validity: could the generator deliver the planned load honestly? Judged apart from the SLA.

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
"""

from __future__ import annotations

from collections.abc import Sequence

from sla_runner import display
from sla_runner.metrics.histogram import value_at_percentile
from sla_runner.metrics.recording import Recording
from sla_runner.verdict_model import Validity

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


def judge_validity(recording: Recording, parts: Sequence[str] = ()) -> Validity:
    """The run-quality facts of a recording, and the reasons it cannot be trusted, if any.

    ``parts``: the reasons a merged recording's parts were invalid. Pooling would dilute one
    host's trouble among the healthy ones, so a merge is invalid when any part was.
    """
    gen = recording.generator
    reasons: list[str] = list(parts)
    missed = gen.dropped + gen.late
    if gen.planned > 0 and 100 * missed / gen.planned > MAX_DROPPED_LATE_PCT:
        reasons.append(
            f"the generator did not deliver the planned arrivals: {display.count(gen.dropped)} "
            f"dropped and {display.count(gen.late)} late of {display.count(gen.planned)} planned "
            f"({display.number(100 * missed / gen.planned)}%, bound {MAX_DROPPED_LATE_PCT:g}%)"
        )
    cpu_p90 = cpu_max = None
    if gen.cpu_pct.get_total_count():
        cpu_p90 = value_at_percentile(gen.cpu_pct, GENERATOR_CPU_PERCENTILE) / 100
        cpu_max = gen.cpu_pct.get_max_value() / 100
        if cpu_p90 >= GENERATOR_CPU_SATURATED_PCT:
            reasons.append(
                f"the generator's CPU was saturated: p{GENERATOR_CPU_PERCENTILE:g} of its "
                f"{display.count(gen.cpu_pct.get_total_count())} samples was "
                f"{display.number(cpu_p90)}% of one core (bound {GENERATOR_CPU_SATURATED_PCT:g}%)"
            )
    lag_p99 = None
    if gen.loop_lag_us.get_total_count():
        lag_p99 = value_at_percentile(gen.loop_lag_us, 99) / 1000
        if lag_p99 > MAX_LOOP_LAG_P99_MS:
            reasons.append(
                f"the generator's event loop lagged: p99 {display.number(lag_p99)} ms over "
                f"{display.count(gen.loop_lag_us.get_total_count())} samples "
                f"(bound {MAX_LOOP_LAG_P99_MS:g} ms)"
            )
    return Validity(
        valid=not reasons,
        reasons=reasons,
        planned=gen.planned,
        dropped=gen.dropped,
        late=gen.late,
        backoffs=gen.backoffs,
        generator_cpu_p90=cpu_p90,
        generator_cpu_max=cpu_max,
        loop_lag_p99_ms=lag_p99,
        bounds=dict(BOUNDS),
    )
