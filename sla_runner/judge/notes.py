"""Notes on failures no threshold judges: a run whose every request got a 404 would
otherwise pass on its (fast) latencies alone, and say nothing of it.

Each note says what failed in the metric's own words (requests, round trips, connections,
passes through a flow, as the findings say) and ends with a threshold that judges those
failures, written so that, pasted into the spec's ``thresholds``, it validates:
``success_rate(http) > 99%``, and for a flow, which is always one scenario's,
``success_rate(flow.<scenario>) > 99%`` (one note per scenario concerned).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence

from sla_runner import numbers
from sla_runner.judge.findings import noun
from sla_runner.metrics.recording import Recording
from sla_runner.spec.parts import ThresholdRuleV2 as ThresholdRule
from sla_runner.spec.thresholds import FLOW_METRIC, LATENCY_METRICS

__all__ = ["SUGGESTED_LIMIT", "unjudged_failures"]

# The success rate a note suggests: a starting point the spec's owner adjusts.
SUGGESTED_LIMIT = "99%"


def unjudged_failures(recording: Recording, rules: Sequence[ThresholdRule]) -> list[str]:
    """One note per metric (http, ws, ws_connect) and per flow whose failures no success or
    error rate threshold judges."""
    judged = {
        (r.expr.metric, r.expr.scope)
        for r in rules
        if r.expr.stat in ("success_rate", "error_rate")
        # a flow is one scenario's: a threshold on it kept to that scenario judges it whole
        and (r.scenario is None or (r.expr.metric == FLOW_METRIC and r.scenario == r.expr.scope))
    }
    notes: list[str] = []
    for metric in LATENCY_METRICS:
        if (metric, None) in judged:
            continue
        scopes = [s for s in _scopes(recording, metric) if (metric, s) not in judged]
        count, kinds = _tally(recording, metric, scopes)
        if kinds:
            what = f"{metric} {noun(metric, count)}"
            notes.append(_note(count, kinds, what, f"success_rate({metric})"))
    for scenario in sorted(s for s in _scopes(recording, FLOW_METRIC) if s is not None):
        if (FLOW_METRIC, scenario) in judged:
            continue
        count, kinds = _tally(recording, FLOW_METRIC, [scenario])
        if kinds:
            what = f"{'pass' if count == 1 else 'passes'} through {FLOW_METRIC}.{scenario}"
            notes.append(_note(count, kinds, what, f"success_rate({FLOW_METRIC}.{scenario})"))
    return notes


def _scopes(recording: Recording, metric: str) -> set[str | None]:
    return {scope for (m, scope, _stage) in recording.series if m == metric}


def _tally(
    recording: Recording, metric: str, scopes: Collection[str | None]
) -> tuple[int, Counter[str]]:
    """How many operations of ``metric`` in ``scopes``, and their failures by kind."""
    count, kinds = 0, Counter[str]()
    for (m, scope, _stage), series in recording.series.items():
        if m == metric and scope in scopes:
            count += series.count
            kinds.update({k: n for k, n in series.outcomes.items() if k != "ok" and n})
    return count, kinds


def _note(count: int, kinds: Counter[str], what: str, selector: str) -> str:
    failed = sum(kinds.values())
    top = ", ".join(f"{kind} {numbers.count(n)}" for kind, n in kinds.most_common(3))
    return (
        f"{numbers.count(failed)} of {numbers.count(count)} {what} failed ({top}) "
        f"and no threshold judges them: add {selector} > {SUGGESTED_LIMIT}"
    )
