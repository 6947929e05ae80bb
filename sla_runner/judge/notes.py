"""Notes on failures no threshold judges: a run whose every request got a 404 would
otherwise pass on its (fast) latencies alone, and say nothing of it.

A ``success_rate`` or ``error_rate`` threshold judges the failures of the series it reads:
its metric, its endpoint or channel if it names one, its scenario's stages if it is kept
to a scenario, its stage if it has ``during``. A note counts only the failures of series
no such threshold reads (a threshold's ``warmup`` seconds are not told apart: its stage
counts as judged).

Each note says what failed in the metric's own words (requests, round trips, connections,
passes through a flow, as the findings say) and ends with a threshold that judges those
failures, written so that, pasted into the spec's ``thresholds``, it validates:
``success_rate(http) > 99%``; in a run of several scenarios where thresholds judge some
scenarios' failures and not others', one note per scenario left, kept to it
(``{expr: success_rate(http) > 99%, scenario: web}``); and for a flow, which is always one
scenario's, ``success_rate(flow.<scenario>) > 99%`` (one note per scenario concerned).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence

from sla_runner import numbers
from sla_runner.judge.findings import noun
from sla_runner.judge.windows import ThresholdRule, scope_of
from sla_runner.metrics.recording import Recording, SeriesKey
from sla_runner.spec.thresholds import FLOW_METRIC, LATENCY_METRICS

__all__ = ["SUGGESTED_LIMIT", "unjudged_failures"]

# The success rate a note suggests: a starting point the spec's owner adjusts.
SUGGESTED_LIMIT = "99%"
RATE_STATS = ("success_rate", "error_rate")


def unjudged_failures(recording: Recording, rules: Sequence[ThresholdRule]) -> list[str]:
    """One note per metric (http, ws, ws_connect; per scenario where thresholds judge some
    scenarios' failures) and per flow whose failures no success or error rate threshold
    judges."""
    judged = _judged(recording, rules)
    several = len(recording.scenarios) > 1
    notes: list[str] = []
    for metric in LATENCY_METRICS:
        keys = [k for k in recording.series if k[0] == metric]
        left = [k for k in keys if k not in judged]
        if len(left) == len(keys) or not several:
            groups: list[tuple[str | None, list[SeriesKey]]] = [(None, left)]
        else:
            groups = [
                (s, [k for k in left if recording.stage_scenarios[k[2]] == s])
                for s in recording.scenarios
            ]
        for scenario, part in groups:
            count, kinds = _tally(recording, part)
            if not kinds:
                continue
            what = f"{metric} {noun(metric, count)}"
            if scenario is not None:
                what += f" of scenario {scenario}"
            whole = [k for k in keys if scenario in (None, recording.stage_scenarios[k[2]])]
            what += _during(recording, part, whole)
            selector = f"success_rate({metric}) > {SUGGESTED_LIMIT}"
            if scenario is not None:
                selector = f"{{expr: {selector}, scenario: {scenario}}}"
            notes.append(_note(count, kinds, what, selector))
    flows = sorted({k[1] for k in recording.series if k[0] == FLOW_METRIC})
    for scenario in flows:
        keys = [k for k in recording.series if k[:2] == (FLOW_METRIC, scenario)]
        part = [k for k in keys if k not in judged]
        count, kinds = _tally(recording, part)
        if kinds:
            what = f"{'pass' if count == 1 else 'passes'} through {FLOW_METRIC}.{scenario}"
            what += _during(recording, part, keys)
            selector = f"success_rate({FLOW_METRIC}.{scenario}) > {SUGGESTED_LIMIT}"
            notes.append(_note(count, kinds, what, selector))
    return notes


def _judged(recording: Recording, rules: Sequence[ThresholdRule]) -> set[SeriesKey]:
    """The series whose failures a success or error rate threshold judges."""
    out: set[SeriesKey] = set()
    for rule in rules:
        t = rule.expr
        if t.stat not in RATE_STATS:
            continue
        if rule.during is not None and rule.during not in recording.stage_names:
            continue
        stage = recording.stage_index(rule.during) if rule.during is not None else None
        scenario = scope_of(rule)
        own = recording.scenario_stages(scenario) if scenario is not None else None
        out.update(
            (m, scope, st)
            for (m, scope, st) in recording.series
            if m == t.metric
            and (t.scope is None or scope == t.scope)
            and (stage is None or st == stage)
            and (own is None or st in own)
        )
    return out


def _during(recording: Recording, part: Collection[SeriesKey], keys: Sequence[SeriesKey]) -> str:
    """`` during steady``, when the unjudged series ``part`` keep to fewer stages than the
    series ``keys`` they are a part of (a threshold judges the others); else nothing."""
    left = {k[2] for k in part}
    if not left or left == {k[2] for k in keys}:
        return ""
    return " during " + ", ".join(recording.stage_names[i] for i in sorted(left))


def _tally(recording: Recording, keys: Collection[SeriesKey]) -> tuple[int, Counter[str]]:
    """How many operations the series ``keys`` hold, and their failures by kind."""
    count, kinds = 0, Counter[str]()
    for key in keys:
        series = recording.series[key]
        count += series.count
        kinds.update({k: n for k, n in series.outcomes.items() if k != "ok" and n})
    return count, kinds


def _note(count: int, kinds: Counter[str], what: str, threshold: str) -> str:
    failed = sum(kinds.values())
    top = ", ".join(f"{kind} {numbers.count(n)}" for kind, n in kinds.most_common(3))
    return (
        f"{numbers.count(failed)} of {numbers.count(count)} {what} failed ({top}) "
        f"and no threshold judges them: add {threshold}"
    )
