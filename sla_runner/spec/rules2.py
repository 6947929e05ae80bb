"""Format 2's thresholds against the spec: what each names must exist and carry traffic.

A threshold's metric names an endpoint, a channel or (``flow.<scenario>``) a scenario with
a flow; ``scenario:`` judges one scenario's traffic, which must hold what the metric names;
``during:`` names a stage of any scenario, or of the scenario judged. The same threshold
twice (metric, statistic, limit, stage, scenario, window, for and warmup) is an error:
judged once. A ``window`` or ``for`` must fit in the span the threshold judges (its stage,
its scenario's stages, or the run), after its ``warmup``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sla_runner.spec.checks import Loc
from sla_runner.spec.crossref2 import Finding, RuleRefs, ScenarioRefs, View, unknown
from sla_runner.spec.thresholds import FLOW_METRIC, Threshold, series_problem
from sla_runner.timeunits import NS_PER_S


def threshold_findings(view: View) -> list[Finding]:
    """Every problem of every threshold's names, and every threshold given twice."""
    found: list[Finding] = []
    owner = view.stage_owners()
    seen: dict[tuple[object, ...], RuleRefs] = {}
    for rule in view.thresholds:
        found += _rule_findings(view, rule, owner)
        t = rule.expr
        if t is None or not rule.readable:
            continue
        key = (
            t.metric,
            t.scope,
            t.stat,
            t.op,
            t.limit,
            t.unit,
            rule.during,
            rule.scenario,
            rule.windows,
        )
        same = seen.setdefault(key, rule)
        if same is not rule:
            where = f" during {rule.during!r}" if rule.during else ""
            where += f" in scenario {rule.scenario}" if rule.scenario else ""
            where += "".join(
                f" {key} {n}s" for key, n in zip(_OPTIONS, rule.windows, strict=True) if n
            )
            first = same.expr.text if same.expr is not None else ""
            found.append(
                Finding(
                    ("thresholds", rule.index, "expr"),
                    f"{t.text}{where} is already thresholds[{same.index}] ({first}): judge it once",
                )
            )
    return found


def _rule_findings(view: View, rule: RuleRefs, owner: dict[str, str]) -> list[Finding]:
    at: Loc = ("thresholds", rule.index, "expr")
    found: list[Finding] = []
    scenario = view.scenarios.get(rule.scenario) if rule.scenario else None
    if rule.scenario is not None and scenario is None:
        found.append(
            Finding(
                ("thresholds", rule.index, "scenario"),
                unknown("scenario", rule.scenario, list(view.scenarios), what="scenarios"),
            )
        )
    t = rule.expr
    if t is not None:
        found += [Finding(at, m) for m in _metric_problems(view, t, rule.scenario, scenario)]
    found += _span_findings(view, rule, owner)
    if rule.during is not None:
        stages = list(owner)
        if rule.during not in owner:
            found.append(
                Finding(
                    ("thresholds", rule.index, "during"),
                    unknown("stage", rule.during, stages, what="stages"),
                )
            )
        elif scenario is not None and owner[rule.during] != rule.scenario:
            found.append(
                Finding(
                    ("thresholds", rule.index, "during"),
                    f"stage {rule.during!r} is scenario {owner[rule.during]}'s, "
                    f"not {rule.scenario}'s: during names a stage of the "
                    "scenario the threshold judges",
                )
            )
    return found


_OPTIONS = ("window", "for", "warmup")


def _span_findings(view: View, rule: RuleRefs, owner: dict[str, str]) -> list[Finding]:
    """A window or for longer than the span the threshold judges (after its warmup), or a
    warmup that leaves nothing of it."""
    window, sustained, warmup = rule.windows
    if (window, sustained, warmup) == (None, None, None):
        return []
    span = _span_s(view, rule, owner)
    if span is None:
        return []
    seconds, what = span
    shown = f"{seconds:g}s"
    found: list[Finding] = []
    left = seconds - (warmup or 0)
    if warmup is not None and left <= 0:
        found.append(
            Finding(
                ("thresholds", rule.index, "warmup"),
                f"warmup {warmup}s leaves nothing of the {shown} of {what} the threshold judges",
            )
        )
        return found
    for key, n in (("window", window), ("for", sustained)):
        if n is not None and n > left:
            after = f" after its warmup of {warmup}s" if warmup else ""
            found.append(
                Finding(
                    ("thresholds", rule.index, key),
                    f"{key} {n}s is longer than the {left:g}s of {what} the threshold "
                    f"judges{after}",
                )
            )
    return found


def _span_s(view: View, rule: RuleRefs, owner: dict[str, str]) -> tuple[float, str] | None:
    """How long the span a threshold judges is, in seconds, and what it is; None when the
    durations cannot be read."""
    if rule.during is not None:
        scenario = view.scenarios.get(owner.get(rule.during, ""))
        span = scenario.stage_spans.get(rule.during) if scenario else None
        what = f"stage {rule.during!r}"
    elif rule.scenario is not None:
        scenario = view.scenarios.get(rule.scenario)
        span = scenario.span_ns if scenario else None
        what = f"scenario {rule.scenario}"
    else:
        ends = [s.span_ns[1] for s in view.scenarios.values() if s.span_ns is not None]
        if not ends or len(ends) != len(view.scenarios):
            return None
        span = (0, max(ends))
        what = "the run"
    if span is None:
        return None
    return (span[1] - span[0]) / NS_PER_S, what


def _metric_problems(
    view: View, t: Threshold, name: str | None, scenario: ScenarioRefs | None
) -> list[str]:
    """What a threshold's metric names that the spec (or its scenario) does not have."""
    scenarios = list(view.scenarios.values()) if scenario is None else [scenario]
    if t.metric == FLOW_METRIC:
        assert t.scope is not None  # the grammar requires flow.<scenario>
        if t.scope not in view.scenarios:
            return [
                f"{t.selector}: "
                + unknown("scenario", t.scope, list(view.scenarios), what="scenarios")
            ]
        if view.scenarios[t.scope].mix is not None and view.scenarios[t.scope].flow is None:
            return [
                f"{t.selector}: scenario {t.scope} has a mix, not a flow: a flow metric "
                "measures passes through a flow"
            ]
        if scenario is not None and name != t.scope:
            return [f"{t.selector} measures scenario {t.scope}, not {name}"]
        return []
    if t.metric == "http":
        sent = {e for s in scenarios for e in view.sends(s)} if scenarios else None
        return _carried(t, view.endpoints, sent, name if scenario else None, _SENDS)
    if t.metric in ("ws", "ws_connect"):
        held = {c for s in scenarios for c, _ in view.holds(s)} if scenarios else None
        return _carried(t, view.channels, held, name if scenario else None, _HOLDS)
    if t.metric.startswith("process.") and view.process is False:
        return [f"{t.metric} needs target.process to say which process to sample"]
    unknown_series = series_problem(t, view.series)
    if unknown_series is not None:
        return [unknown_series]
    if t.metric == "users" and scenario is not None and scenario.model == "open":
        return [f"users: scenario {name} is open (rate stages): it has no users"]
    return []


@dataclass(frozen=True)
class _Carrying:
    """How a scenario carries an endpoint's or a channel's traffic, in words."""

    kind: str  # endpoint, channel
    verb: str  # sends, holds
    item: str  # how one is named after the verb: "" or "channel "
    nothing: str  # sends no requests, holds no channels
    note: str = ""


_SENDS = _Carrying(
    "endpoint", "send", "", "sends no requests", " (a before step is outside every metric)"
)
_HOLDS = _Carrying("channel", "hold", "channel ", "holds no channels")


def _carried(
    t: Threshold,
    declared: Mapping[str, Any],
    carried: set[str] | None,
    scenario: str | None,
    how: _Carrying,
) -> list[str]:
    """What an http or ws threshold names that is not declared, or carries no traffic."""
    if t.scope is not None and t.scope not in declared:
        return [f"{t.selector}: " + unknown(how.kind, t.scope, list(declared))]
    if t.scope is None and not declared:
        return [f"{t.metric}: the spec declares no {how.kind}s"]
    if carried is None:  # no scenario could be read: what they carry is not known
        return []
    if t.scope is not None and t.scope not in carried:
        who = f"scenario {scenario} does not {how.verb}" if scenario else f"no scenario {how.verb}s"
        return [f"{t.selector}: {who} {how.item}{t.scope}{how.note}"]
    if t.scope is None and not carried:
        who = f"scenario {scenario}" if scenario else "no scenario"
        what = how.nothing if scenario else how.nothing.replace(" no ", " ")
        return [f"{t.metric}: {who} {what}"]
    return []
